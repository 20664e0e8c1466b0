// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAssetController} from "./IAssetController.sol";

/// @title IFundLens
/// @notice Read-only aggregation for keepers: the whole fund's state in one eth_call. Kept out
/// of the AssetController so the controller stays under the contract size limit.
interface IFundLens {
    /// @notice Totals, tier values and ratios, tier bands, and every asset's position.
    function fundState(IAssetController controller) external view returns (IAssetController.FundState memory);
}
