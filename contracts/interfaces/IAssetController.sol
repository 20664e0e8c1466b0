// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IRebalanceTarget} from "./IRebalanceTarget.sol";

/// @title IAssetController
/// @notice Moves the fund's money between its three liquidity tiers (seed 001 section 4.2):
/// L1 cash (held by the vault), L2 money-market and L3 high-yield RWA positions (held here).
/// Every move is guarded: a minimum out derived from the oracle (max slippage), a cap on the
/// value lost per operation, single-asset and top-3 concentration limits, per-asset caps, tier
/// max bands, and pause. Tier indices: 0 = L1 cash, 1 = L2, 2 = L3. Ratios are basis points of
/// the fund's gross assets (cash not earmarked for redemptions + invested value).
/// @dev Roles: DEFAULT_ADMIN_ROLE is held by a timelock and alone may make risk-increasing
/// changes; ADMIN_ROLE makes risk-reducing changes at once; GUARDIAN_ROLE pauses and lowers
/// limits at once; KEEPER_ROLE moves money; REBALANCER_ROLE may only call rebalance(bool).
interface IAssetController is IRebalanceTarget {
    /* TYPES */

    struct TierConfig {
        uint16 targetBps;
        uint16 minBps;
        uint16 maxBps;
    }

    struct AssetParams {
        address token;
        uint8 tier; // 1 (L2) or 2 (L3)
        address adapter;
        address feed;
        uint32 heartbeat;
        uint128 minAnswer;
        uint128 maxAnswer;
        uint128 cap; // max value in base units
        uint16 maxConcentrationBps;
    }

    struct RiskParams {
        uint16 maxSlippageBps; // min out = oracle out less this
        uint16 maxValueLossBps; // per operation, at oracle prices
        uint16 maxTop3Bps; // top-3 assets' share of gross assets
        uint32 navMaxAge; // seconds a stored mark may serve the vault's totalAssets
        uint128 minMoveValue; // rebalance() ignores moves below this (base units)
    }

    struct AssetState {
        address token;
        uint8 tier;
        bool instant;
        uint256 balance; // tokens held
        uint256 price; // raw feed answer
        uint8 feedDecimals;
        uint256 value; // balance + pending, in base units
        uint256 pendingValue; // locked in async requests
        uint256 redeemableNowValue;
        uint256 concentrationBps;
        uint256 maxConcentrationBps;
        uint256 cap;
        uint256 windowOpensAt;
    }

    struct FundState {
        uint256 totalAssets; // free cash + invested - redemptions still owed (estimate)
        uint256 grossAssets; // tier values summed
        uint256 freeCash;
        uint256 pendingRedemptions;
        uint256[3] tierValues;
        uint256[3] tierRatioBps;
        TierConfig[3] tiers;
        AssetState[] assets;
        uint256 top3Bps;
        bool paused;
        uint64 markedAt;
        uint8 baseDecimals;
    }

    /* ERRORS */

    error ZeroAddress(string what);
    error ZeroAmount();
    /// @notice Tier index out of range or not allowed for the operation.
    error InvalidTier(uint8 tier);
    /// @notice A tier's band is inconsistent (need min <= target <= max <= 10000).
    error InvalidTierBand(uint8 tier, uint16 minBps, uint16 targetBps, uint16 maxBps);
    /// @notice Tier targets must sum to 10000.
    error TierTargetsSum(uint256 sum);
    error UnknownAsset(address token);
    error AssetAlreadyRegistered(address token);
    error TooManyAssets(uint256 max);
    error AssetNotInTier(address token, uint8 tier);
    error AssetNotEmpty(address token, uint256 value);
    error NoAssetInTier(uint8 tier);
    /// @notice A parameter is out of its sane range.
    error InvalidParameter(string name, uint256 value);
    /// @notice A risk-increasing change was attempted without going through the timelock.
    error RiskIncreaseRequiresTimelock(address caller, string what);
    error NotRebalancer(address caller);
    /// @notice Received less than the oracle-derived (or caller's) minimum.
    error SlippageExceeded(uint256 minOut, uint256 out);
    /// @notice The operation lost more value at oracle prices than allowed.
    error ValueLossExceeded(uint256 lossBps, uint256 maxBps);
    error ConcentrationExceeded(address token, uint256 bps, uint256 maxBps);
    error Top3ConcentrationExceeded(uint256 bps, uint256 maxBps);
    error AssetCapExceeded(address token, uint256 value, uint256 cap);
    /// @notice The purchase would push an invested tier above its max band. (L1 cash above its
    /// max costs yield, not safety: the keeper's liquidity trigger deploys it.)
    error TierAboveMax(uint8 tier, uint256 ratioBps, uint256 maxBps);
    /// @notice The tier's assets have no room left under their caps for `remaining`.
    error TierCapacityExhausted(uint8 tier, uint256 remaining);
    /// @notice The asset cannot be redeemed for that much now (window closed or illiquid).
    error NotRedeemableNow(address token, uint256 requested, uint256 redeemable);
    /// @notice No fallback feed was approved (through the timelock) for `token`.
    error NoFallbackFeed(address token);

    /* EVENTS */

    event TiersSet(TierConfig[3] tiers);
    event AssetAdded(address indexed token, uint8 tier, address adapter, address feed);
    event AssetRemoved(address indexed token);
    event DefaultAssetSet(uint8 indexed tier, address indexed token);
    event AssetLimitsSet(address indexed token, uint256 cap, uint256 maxConcentrationBps);
    event FeedSet(address indexed token, address feed, uint32 heartbeat, uint128 minAnswer, uint128 maxAnswer);
    event RiskParamsSet(RiskParams params);
    /// @notice A fallback feed was approved (or withdrawn, feed = 0) for `token`.
    event FallbackFeedSet(address indexed token, address feed, uint32 heartbeat, uint128 minAnswer, uint128 maxAnswer);
    event DustValueSet(uint256 value);
    event Marked(uint256 investedValue, uint64 at);
    event Allocated(uint8 indexed tier, uint256 amount);
    event Purchased(address indexed token, uint256 cashIn, uint256 tokensOut, bool pending);
    event Redeemed(address indexed token, uint256 tokensIn, uint256 cashOut, bool pending);
    event Settled(address indexed token, uint256 tokensIn, uint256 cashIn);
    event BufferRebalanced(uint256 cashBefore, uint256 cashAfter);
    /// @notice The waterfall could not use `token` now (reason: 1 = async, 2 = nothing redeemable now).
    event WaterfallSkipped(address indexed token, uint8 tier, uint8 reason);
    event WaterfallLiquidated(uint256 amountNeeded, uint8 maxTier, uint256 raised);
    event Rebalanced(address indexed caller, bool force, bool moved);

    /* VIEWS */

    function vault() external view returns (address);

    function cash() external view returns (address);

    /// @notice The invested value users are priced at, never reverting: `low` = min(mark, live)
    /// for exits, `high` = max(mark, live) for entries (the mark counts while younger than
    /// navMaxAge), so no sequence of mark() and a feed update prices a user against the live
    /// valuation. Empty positions need no price; a held asset whose feed is down (stale, out
    /// of bounds, reverting) counts as zero in both and sets `feedDown` (the vault then refuses
    /// entries, while exits go on at that conservative value).
    function pricingValues() external view returns (uint256 low, uint256 high, bool feedDown);

    /// @notice Positions worth at most this (valued at the feed's upper bound) may be de-listed.
    function dustValue() external view returns (uint256);

    /// @notice The fallback feed approved for `token` (0 if none).
    function fallbackFeed(address token) external view returns (address);

    /// @notice When the invested value was last marked.
    function markedAt() external view returns (uint64);

    function tier(uint8 t) external view returns (TierConfig memory);

    function assetParams(address token) external view returns (AssetParams memory);

    function assetList() external view returns (address[] memory);

    function defaultAsset(uint8 t) external view returns (address);

    function riskParams() external view returns (RiskParams memory);

    /// @notice Value of `amount` of `token` in base units at the oracle price.
    function valueOf(address token, uint256 amount) external view returns (uint256);

    /* MOVES (keeper) */

    /// @notice Invests `amount` of L1 cash in tier `t` (1 or 2): the default asset first, then the
    /// tier's other assets by concentration headroom.
    function allocateToLayer(uint8 t, uint256 amount) external returns (uint256 invested);

    /// @notice Buys `token` with `cashAmount` of L1 cash; reverts below max(minOut, oracle min).
    function purchaseAsset(address token, uint256 cashAmount, uint256 minOut) external returns (uint256 tokensOut);

    /// @notice Sells `tokenAmount` of `token` back to L1 cash; reverts below max(minOut, oracle min).
    function redeemAsset(address token, uint256 tokenAmount, uint256 minOut) external returns (uint256 cashOut);

    /// @notice Brings L1 cash to its target: deploys the excess over L2/L3 by their deficits, or
    /// raises the shortfall through the waterfall (L2 before L3).
    function rebalanceBuffer() external;

    /// @notice Raises up to `amountNeeded` cash from L2 then L3, never past `maxTier`, skipping and
    /// reporting what cannot be redeemed now. Funds the vault's redemption queue afterwards.
    function executeWaterfallLiquidation(uint256 amountNeeded, uint8 maxTier) external returns (uint256 raised);

    /// @notice Claims due asynchronous requests of `token` (anyone).
    function settle(address token) external returns (uint256 tokensIn, uint256 cashIn);

    /// @notice Stores the live invested value as the mark (anyone). Since users are priced at
    /// the worse of mark and live, calling it cannot move the price in the caller's favour.
    function mark() external returns (uint256);

    /* CONFIGURATION */

    function setTiers(TierConfig[3] calldata tiers_) external;

    function addAsset(AssetParams calldata p) external;

    /// @notice De-lists `token` (guardian, admin or timelock) when its position, valued at the
    /// feed's upper bound (no live price needed), is at most dustValue (0 by default: empty).
    function removeAsset(address token) external;

    function setDefaultAsset(uint8 t, address token) external;

    function setAssetLimits(address token, uint128 cap, uint16 maxConcentrationBps) external;

    function setFeed(address token, address feed, uint32 heartbeat, uint128 minAnswer, uint128 maxAnswer) external;

    /// @notice Approves `feed` as `token`'s fallback, for the guardian to switch to at once
    /// (feed = 0 withdraws it). Timelock.
    function setFallbackFeed(address token, address feed, uint32 heartbeat, uint128 minAnswer, uint128 maxAnswer)
        external;

    /// @notice Switches `token` to its approved fallback feed at once (guardian, admin or timelock);
    /// the approval is used up.
    function useFallbackFeed(address token) external;

    /// @notice Sets the dust value below which a position may be de-listed: raising it through
    /// the timelock, lowering it at once (guardian, admin).
    function setDustValue(uint128 value) external;

    function setRiskParams(RiskParams calldata p) external;

    function pause() external;

    function unpause() external;
}
