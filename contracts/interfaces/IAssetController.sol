// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAssetControllerTypes} from "./IAssetControllerTypes.sol";

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
interface IAssetController is IAssetControllerTypes {
    /* VIEWS */

    function vault() external view returns (address);

    function cash() external view returns (address);

    /// @notice The invested value users are priced at, never reverting: `low` = min(mark, live)
    /// for exits, `high` = max(mark, live) for entries (the mark counts while younger than
    /// navMaxAge), so no sequence of mark() and a feed update prices a user against the live
    /// valuation. Empty positions need no price; a held asset whose feed is down (stale, out
    /// of bounds, reverting) counts as zero in both and sets `feedDown` (the vault then refuses
    /// entries, while exits go on at that conservative value). While `feedDown`, `high` is
    /// instead the live value of the priced positions plus each down or held position at its
    /// last good value (the last valued mark's), scaled to the units the fund accounts for now:
    /// what the vault values an outage exit's fee arithmetic at (its high-water-mark follow
    /// and the management fee owed up to it). No user is priced at it then (entries refused).
    function pricingValues() external view returns (uint256 low, uint256 high, bool feedDown);

    /// @notice pricingValues as the live pass computes it, every held position and feed read.
    /// pricingValues itself answers from the stored mark for every position whose feed still
    /// reports the round the mark used (latestRound), whatever the mark's age, and reads live
    /// only the others (a new round, a feed without round ids, an asynchronous request), while
    /// no marked round is past its heartbeat and no feed or listing changed since the mark.
    /// Units change only by the controller's moves, each of which marks again, so both give the
    /// same three values to the wei (the property the fund invariant suite checks). Either way
    /// users' pricing counts a position's units up to those of the last mark or move: tokens
    /// sent to the controller by anyone else count from the next mark.
    function livePricingValues() external view returns (uint256 low, uint256 high, bool feedDown);

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

    /// @notice The per-window move budgets and the bound of internal swaps.
    function moveLimits() external view returns (MoveLimits memory);

    /// @notice What the current window has used of each budget (drained to now).
    function budgetUsage() external view returns (uint256 lossUsed, uint256 notionalUsed);

    /// @notice The L2 sequencer-uptime feed moves check (zero: none) and its grace period.
    function sequencerFeed() external view returns (address feed, uint32 gracePeriod);

    /// @notice Value of `amount` of `token` in base units at the oracle price.
    function valueOf(address token, uint256 amount) external view returns (uint256);

    /// @notice Whether moves are paused (guardian, admin or timelock pause; admin unpauses).
    function paused() external view returns (bool);

    /// @notice Whether the vault's available cash was inside the cash band of the mark when the
    /// mark was stored, and has not left it since (the vault says when it does: cashLeftBand).
    /// While true and the mark is fresh, rebalance(false) answers "nothing to do" from one slot.
    function cashInBand() external view returns (bool);

    /// @notice The stored mark: the invested value of L2 and L3 at markedAt() (base units).
    function markedValues() external view returns (uint256 l2, uint256 l3);

    /* MOVES (keeper) */

    /// @notice Invests `amount` of L1 cash in tier `t` (1 or 2): the default asset first, then the
    /// tier's other assets by concentration headroom. Refused (MarkWhileFeedDown) while a held
    /// asset's feed is down or its valuation is held, as every buy is.
    function allocateToLayer(uint8 t, uint256 amount) external returns (uint256 invested);

    /// @notice Buys `token` with `cashAmount` of L1 cash; reverts below max(minOut, oracle min).
    /// Refused (MarkWhileFeedDown) while a held asset's feed is down or its valuation is held:
    /// the buy would be bounded on a gross with that asset at zero, and the mark kept through
    /// the outage would leave it out (then the lower value pricing the outage's exits).
    function purchaseAsset(address token, uint256 cashAmount, uint256 minOut) external returns (uint256 tokensOut);

    /// @notice Sells `tokenAmount` of `token` back to L1 cash; reverts below max(minOut, oracle min).
    function redeemAsset(address token, uint256 tokenAmount, uint256 minOut) external returns (uint256 cashOut);

    /// @notice Brings L1 cash to its target: deploys the excess over L2/L3 by their deficits, or
    /// raises the shortfall through the waterfall (L2 before L3). The deploy is refused
    /// (MarkWhileFeedDown) while a held asset's feed is down or its valuation is held; the raise
    /// runs.
    function rebalanceBuffer() external;

    /// @notice IRebalanceTarget's rebalance (same selector), with a second word: `offTarget`,
    /// true when some pool leg was cut at its price bound and the fund is still out of its bands
    /// after the run (a Rebalancer that trusts this controller retries at interval / 24). Reverts
    /// RebalanceHeld when out of band and every move was cut to nothing.
    /// @param force When false, a fund already inside its bands does nothing.
    /// @return moved True when anything was moved.
    /// @return offTarget Some leg was cut and the fund is still out of band.
    function rebalance(bool force) external returns (bool moved, bool offTarget);

    /// @notice Raises up to `amountNeeded` cash from L2 then L3, never past `maxTier`, skipping and
    /// reporting what cannot be redeemed now. Funds the vault's redemption queue afterwards.
    function executeWaterfallLiquidation(uint256 amountNeeded, uint8 maxTier) external returns (uint256 raised);

    /// @notice Claims due asynchronous requests of `token` (anyone).
    function settle(address token) external returns (uint256 tokensIn, uint256 cashIn);

    /// @notice Stores the live invested value as the mark (anyone). Since users are priced at
    /// the worse of mark and live, calling it cannot move the price in the caller's favour.
    /// Refused (MarkWhileFeedDown) while a held asset's feed is down; a move made meanwhile
    /// keeps the mark in force (MarkKept).
    function mark() external returns (uint256);

    /// @notice The vault reports that its available cash left the cash band it was given with the
    /// last mark (ITieredVault.noteMark): rebalance(false) then decides from a full valuation
    /// until the next mark. Only the vault.
    function cashLeftBand() external;

    /* CONFIGURATION */

    function setTiers(TierConfig[3] calldata tiers_) external;

    function addAsset(AssetParams calldata p) external;

    /// @notice De-lists `token` (guardian, admin or timelock) when its position is dust: at most
    /// a millionth of a token (whatever its price), or, valued at the feed's upper bound (no
    /// live price needed), at most dustValue (0 by default).
    function removeAsset(address token) external;

    function setDefaultAsset(uint8 t, address token) external;

    function setAssetLimits(address token, uint128 cap, uint16 maxConcentrationBps) external;

    function setFeed(address token, address feed, uint32 heartbeat, uint128 minAnswer, uint128 maxAnswer) external;

    /// @notice Vouches that `token`'s feed bumps its round id on every new answer (Chainlink's
    /// aggregators do; RedStone's PriceFeedWithoutRounds does not): users' pricing then reuses
    /// the position's marked value while the feed's latestRound() is the marked round, one
    /// read of one slot on Chainlink. Unvouched (the default, and again after every feed
    /// change) it compares a fingerprint of every word of latestRoundData() instead, which
    /// trusts no round id. Vouching is risk-increasing (timelock); withdrawing it is at once
    /// (guardian, admin or timelock). Either way the mark's lines are dropped: priced live
    /// until the next mark.
    function setRoundsBumped(address token, bool bumped) external;

    /// @notice Whether `token`'s feed is vouched for as bumping its round on every answer.
    function roundsBumped(address token) external view returns (bool);

    /// @notice Approves `feed` as `token`'s fallback, for the guardian to switch to at once
    /// (feed = 0 withdraws it). Timelock. As for every feed (addAsset, setFeed), minAnswer is
    /// at least 1, below maxAnswer and at most 2**96 - 1 (InvalidParameter "minAnswer").
    function setFallbackFeed(address token, address feed, uint32 heartbeat, uint128 minAnswer, uint128 maxAnswer)
        external;

    /// @notice Switches `token` to its approved fallback feed at once (guardian, admin or timelock);
    /// the approval is used up. Like any feed change, the fallback starts unvouched
    /// (setRoundsBumped) and the mark's lines are dropped: priced live until the next mark.
    function useFallbackFeed(address token) external;

    /// @notice Sets the dust value below which a position may be de-listed: raising it through
    /// the timelock, lowering it at once (guardian, admin).
    function setDustValue(uint128 value) external;

    /// @notice Sets `token`'s valuation step bound (issue 54): an answer further from the price
    /// the last mark counted (the reference) than `stepBps` plus `perDayBps` for every day since
    /// the reference was set holds the asset: entries refused (pricingValues' feedDown), exits
    /// at the lower of the reference and the answer, no mark (rebalance and mark() revert
    /// MarkWhileFeedDown, the keeper's moves keep the old mark), no buy of any asset
    /// (MarkWhileFeedDown), no sale of it (PriceHeld),
    /// until the guardian's acceptPrice or until the bound has grown over the step: a genuine
    /// restatement of s bps stands after (s - stepBps) / perDayBps days, never with perDayBps 0.
    /// Both 0 (every asset's default): no bound. Loosening (a higher stepBps or perDayBps, or
    /// none) needs the timelock; tightening is at once (guardian, admin). Turning a bound on
    /// takes the feed's answer now as the reference (none while it is down: the next mark's).
    function setPriceStepBound(address token, uint16 stepBps, uint16 perDayBps) external;

    /// @notice Confirms `token`'s answer now (guardian or timelock): its reference becomes the
    /// feed's checked answer (reverts while it is down), ending a hold; the next mark counts it.
    /// Confirming is all it does: no price of anyone's choosing, only the feed's.
    function acceptPrice(address token) external;

    /// @notice The configuration module (AssetControllerAdmin) this controller delegatecalls for
    /// its configuration and some views: named at construction, never replaced.
    function adminModule() external view returns (address);

    /// @notice The units of `token` the fund counts now: what the controller holds, at most the
    /// units of the last mark or move (a settle, an in-kind exit). An outsider's transfer in is
    /// never counted (not in value, not in what a move sells), a transfer out at once; keepers
    /// value and size their moves on these (FundLens), not on `balanceOf`.
    function accountedUnits(address token) external view returns (uint256);

    /// @notice Where `token`'s feed stands against its step bound: `held` while the answer now
    /// (`answer`, 0 while the feed is down) lies further from `referencePrice` (the raw answer
    /// the last mark, move or acceptPrice counted; 0: none yet) than `allowedBps` (stepBps +
    /// perDayBps * days since the reference was set); `moveBps` the step, |answer - reference|
    /// in bps of the reference, rounded up; the bound (`stepBps`, `perDayBps`: both 0, none) and
    /// when the reference was set (`referenceAt`). The keeper's `nav_jump` alert reads it.
    function priceHold(address token)
        external
        view
        returns (
            bool held,
            uint256 referencePrice,
            uint256 answer,
            uint256 moveBps,
            uint256 allowedBps,
            uint16 stepBps,
            uint16 perDayBps,
            uint64 referenceAt
        );

    function setRiskParams(RiskParams calldata p) external;

    /// @notice Sets the per-window budgets and the internal swap bound. Raising a budget or the
    /// bound, or shortening the window, increases risk (timelock); the rest is immediate for the
    /// admin and the guardian. The window must lie in [1 hour, 30 days].
    function setMoveLimits(MoveLimits calldata l) external;

    /// @notice Sets the Chainlink L2 sequencer-uptime feed checked before every move (answer 0 =
    /// up; moves wait `gracePeriod` after it comes back). Adding a feed where none was, or a
    /// longer grace period on the same feed, is risk-reducing; anything else needs the timelock.
    function setSequencerFeed(address feed, uint32 gracePeriod) external;

    function pause() external;

    function unpause() external;
}
