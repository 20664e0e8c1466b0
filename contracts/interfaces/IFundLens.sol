// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAssetController} from "./IAssetController.sol";

/// @title IFundLens
/// @notice Read-only aggregation for keepers: the whole fund's state in one eth_call. Kept out
/// of the AssetController so the controller stays under the contract size limit. Values the
/// positions itself from the controller's public configuration with the controller's own rules
/// (ValuationLib): an empty position is not priced by them (the lens still reports its feed's
/// answer), a held asset whose feed is down is valued at zero with price 0. Never reverts on a feed.
interface IFundLens {
    /// @notice What the fund can pay in base coin within each horizon of `HORIZON_DAYS` (0, 1,
    /// 7 and 30 days from `at`) without the keeper breaking a budget, as far as the chain knows.
    /// Every amount is in base units. Counted: L1's free cash (the vault's balance less the cash
    /// reserved for funded claims; queued, unfunded requests draw on the horizon like any other
    /// exit); ERC-4626 venues at what they pay now (the least of `previewRedeem` of the units the
    /// fund accounts for, capped by the venue's `maxRedeem`, and their oracle value); asynchronous
    /// RWA positions by their issuer's next redemption window and notice period (requests in
    /// flight after one notice period, held tokens after the window opens plus the notice
    /// period; subscriptions in flight are not counted); venue sales and redemption requests
    /// inside the notional budget's room by then (the per-window budget, drained as the
    /// controller drains it). Not counted, for the keeper to add: pool-traded assets, whose
    /// depth at a stated cost the lens cannot read cheaply (`poolValue` is their oracle value,
    /// `notionalLeft` and `lossRoom` the budgets left for selling them). With the controller
    /// paused only L1 and requests in flight count; with the vault's withdrawals paused nothing.
    struct ExitHorizon {
        uint64 at; // block timestamp of the reading
        uint256 cash; // L1: free cash
        uint256 venues; // ERC-4626 venues: base coin they pay now (before the budget)
        uint256 venuesOracle; // the same units at the oracle (what the budget is charged)
        uint256 poolValue; // pool-traded positions at the oracle: not counted
        uint256[4] venuesPaid; // venues' part of each horizon, inside the budget
        uint256[4] asyncPaid; // asynchronous positions' part of each horizon, inside the budget
        uint256[4] total; // cash + venuesPaid + asyncPaid: the horizon the chain can state
        uint256[4] notionalLeft; // notional budget room left by each horizon after the above
        uint256[4] lossRoom; // loss budget room by each horizon
    }

    /// @notice Totals, tier values and ratios, tier bands, and every asset's position.
    function fundState(IAssetController controller) external view returns (IAssetController.FundState memory);

    /// @notice The exit horizon of `controller`'s fund now (see ExitHorizon). Never reverts on a
    /// feed or a venue: an asset whose feed or venue does not answer counts nothing.
    function exitHorizon(IAssetController controller) external view returns (ExitHorizon memory);
}
