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
    /// @notice Totals, tier values and ratios, tier bands, and every asset's position.
    function fundState(IAssetController controller) external view returns (IAssetController.FundState memory);
}
