// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IAssetControllerTypes
/// @notice The AssetController's types, errors and events, apart from its functions, so that
/// the controller and its admin module (which shares its storage) declare them once.
interface IAssetControllerTypes {
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

    /// @notice What keeper- and rebalancer-initiated moves may do per window, on top of the
    /// per-call guards: a stolen keeper key loses at most `lossBudget` per window (twice it in
    /// the worst window-long span, see WindowBudgetLib), however it repeats its calls.
    struct MoveLimits {
        uint96 lossBudget; // value lost at oracle prices per window (base units)
        uint96 notionalBudget; // value moved (bought + sold) per window (base units)
        uint32 window; // seconds; a day by default
        uint16 internalSlippageBps; // oracle bound of the controller's own swaps (rebalance, ...)
    }

    struct AssetState {
        address token;
        uint8 tier;
        bool instant;
        uint256 balance; // tokens the fund counts (accountedUnits: an outsider's transfer in is not)
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
    /// @notice The configuration module named to the constructor is not an AssetControllerAdmin
    /// of this release made for this vault.
    error AdminModuleMismatch(address module);
    error ZeroAmount();
    /// @notice The mark's lines could not be stored (the contract holding them was not created).
    error LinesNotWritten();
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
    /// @notice An in-kind transfer of `token` failed with less gas left than its bound
    /// (AssetControllerAdmin._IN_KIND_TRANSFER_GAS) to give it: send the exit with more gas.
    error InKindTransferStarved(address token);
    /// @notice Only the vault reports its redemption queue's reserve.
    error NotVault(address caller);
    /// @notice Users' pricing asked in the middle of a move (from a listed token's or venue's
    /// hook): the mark does not count the cash or the units in flight until the move marks.
    error MovesUnderWay();
    /// @notice The controller is paused (the same error as OpenZeppelin's Pausable).
    error EnforcedPause();
    /// @notice unpause() while not paused.
    error ExpectedPause();
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
    /// @notice The window's value-lost budget would be passed: `used` including this move.
    error LossBudgetExceeded(uint256 used, uint256 budget);
    /// @notice The window's notional budget would be passed: `used` including this move.
    error NotionalBudgetExceeded(uint256 used, uint256 budget);
    /// @notice No mark is taken, no rebalance runs and nothing is bought while a held asset's
    /// feed is down (a mark would count it at zero for up to navMaxAge after the feed is back;
    /// a rebalance or a buy would be sized and bounded on that gross, and a buy would lower the
    /// kept mark's exit price). Sales run. Held: units the fund accounts for, never a transfer in.
    error MarkWhileFeedDown();
    /// @notice rebalance() found the fund out of band, and every move it tried was cut to
    /// nothing at the internal bound (pools moved past the bound): the run is refused, so a
    /// recurring rebalancer books its retry soon instead of a full interval later.
    error RebalanceHeld();
    /// @notice A move would trade `token` at `answer`, further from the price the last mark
    /// counted (`referencePrice`) than its step bound allows: held until the guardian's acceptPrice
    /// or until the bound, growing by perDayBps a day, covers the step (see priceHold).
    error PriceHeld(address token, uint256 referencePrice, uint256 answer);

    /* EVENTS */

    event TiersSet(TierConfig[3] tiers);
    event AssetAdded(address indexed token, uint8 tier, address adapter, address feed);
    event AssetRemoved(address indexed token);
    event DefaultAssetSet(uint8 indexed tier, address indexed token);
    event AssetLimitsSet(address indexed token, uint256 cap, uint256 maxConcentrationBps);
    event FeedSet(address indexed token, address feed, uint32 heartbeat, uint128 minAnswer, uint128 maxAnswer);
    /// @notice `token`'s feed was vouched for (or no longer) as one that bumps its round id on
    /// every answer (setRoundsBumped).
    event RoundsBumpedSet(address indexed token, bool bumped);
    event RiskParamsSet(RiskParams params);
    /// @notice A fallback feed was approved (or withdrawn, feed = 0) for `token`.
    event FallbackFeedSet(address indexed token, address feed, uint32 heartbeat, uint128 minAnswer, uint128 maxAnswer);
    event DustValueSet(uint256 value);
    event MoveLimitsSet(MoveLimits limits);
    event SequencerFeedSet(address feed, uint32 gracePeriod);
    /// @notice `token`'s valuation step bound (both 0: none); `reference` the price it is held against from now.
    event PriceStepBoundSet(address indexed token, uint16 stepBps, uint16 perDayBps, uint256 referencePrice);
    /// @notice The guardian (or the timelock) confirmed `token`'s answer: the reference moved
    /// from `oldReference` to `newReference` (raw feed answers), the next mark counts it.
    event PriceAccepted(address indexed token, uint256 oldReference, uint256 newReference);
    event Marked(uint256 investedValue, uint64 at);
    /// @notice A held asset's feed was down after a move: the mark in force was kept, not
    /// replaced by a valuation that counts that asset at zero.
    event MarkKept(uint64 markedAt);
    event Allocated(uint8 indexed tier, uint256 amount);
    event Purchased(address indexed token, uint256 cashIn, uint256 tokensOut, bool pending);
    event Redeemed(address indexed token, uint256 tokensIn, uint256 cashOut, bool pending);
    event Settled(address indexed token, uint256 tokensIn, uint256 cashIn);
    event BufferRebalanced(uint256 cashBefore, uint256 cashAfter);
    /// @notice The waterfall could not use `token` now (reason: 1 = async, 2 = nothing redeemable now,
    /// 3 = its price is held by its step bound).
    event WaterfallSkipped(address indexed token, uint8 tier, uint8 reason);
    event WaterfallLiquidated(uint256 amountNeeded, uint8 maxTier, uint256 raised);
    event Rebalanced(address indexed caller, bool force, bool moved);
    /// @notice A move of the controller's own rebalance filled `done` of the `asked` input
    /// (cash for a purchase, tokens for a sale) inside the internal bound; the rest is carried.
    event MoveCut(address indexed token, uint256 asked, uint256 done);
    /// @notice Moves were paused (the same event as OpenZeppelin's Pausable).
    event Paused(address account);
    event Unpaused(address account);
    /// @notice An in-kind exit (ITieredVault.redeemInKind) paid `units` of `token`, units the fund
    /// accounted for, to `receiver`.
    event PaidInKind(address indexed token, address indexed receiver, uint256 units);
    /// @notice An in-kind exit's transfer of `units` of `token` to `receiver` failed (a paused
    /// token, a receiver the token refuses): skipped, the units stay in the fund, for the holders
    /// left; the rest of the exit went on.
    event InKindSkipped(address indexed token, address indexed receiver, uint256 units);

}
