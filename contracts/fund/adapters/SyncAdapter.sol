// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAssetAdapter} from "../../interfaces/IAssetAdapter.sol";

/// @title SyncAdapter
/// @notice The part every synchronous adapter shares (ERC4626Adapter, UniswapV3Adapter): a
/// move settles in its own call, so nothing is ever pending, there is nothing to settle and no
/// window to wait for. Each adapter adds invest, divest and redeemableNow.
abstract contract SyncAdapter is IAssetAdapter {
    /// @inheritdoc IAssetAdapter
    function isInstant() external pure returns (bool) {
        return true;
    }

    /// @inheritdoc IAssetAdapter
    function pending(address, address) external pure returns (uint256, uint256) {
        return (0, 0);
    }

    /// @inheritdoc IAssetAdapter
    function settle(address) external pure returns (uint256, uint256) {
        return (0, 0);
    }

    /// @inheritdoc IAssetAdapter
    function windowOpensAt(address) external pure returns (uint256) {
        return 0;
    }
}
