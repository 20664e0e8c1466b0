// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IAssetAdapter} from "../../interfaces/IAssetAdapter.sol";
import {SyncAdapter} from "./SyncAdapter.sol";
import {ReleaseLib} from "../../libraries/ReleaseLib.sol";

/// @title ERC4626Adapter
/// @notice Instant entry and exit of an ERC-4626 fund over the base asset (e.g. a tokenized
/// money-market fund): deposit for shares, redeem shares for cash.
contract ERC4626Adapter is SyncAdapter {
    /// @notice The contract release this code belongs to (ASCII in a bytes32, e.g. "0.2.0"): the
    /// keepers refuse to drive contracts of a release their ABIs do not belong to.
    bytes32 public constant RELEASE = ReleaseLib.RELEASE;

    using SafeERC20 for IERC20;

    /// @inheritdoc IAssetAdapter
    function invest(address token, uint256 cashIn) external returns (uint256) {
        return _invest(token, cashIn);
    }

    /// @inheritdoc IAssetAdapter
    /// @dev A fund's share price is one price for the whole amount: all or nothing, and the
    /// controller's bound decides.
    function investWithin(address token, uint256 cashIn, uint256, bool) external returns (uint256) {
        return _invest(token, cashIn);
    }

    /// @inheritdoc IAssetAdapter
    function divestWithin(address token, uint256 tokenAmount, uint256, bool) external returns (uint256) {
        return IERC4626(token).redeem(tokenAmount, msg.sender, address(this));
    }

    /// @dev The venue named by the call (`token`) is approved for exactly `cashIn` of its own
    /// asset, above one base unit it keeps: a venue that pulls less than it was offered has the
    /// rest revoked before the call returns, so after any call a venue may pull at most that one
    /// unit, of an adapter that holds no cash between calls (anyone may call this adapter with
    /// any contract as `token`). The unit is kept so that the allowance's slot never empties: a
    /// slot written from zero costs every deposit leg about 20k gas, whose refund a rebalance of
    /// many legs loses to the refund cap (+316k at 16 assets).
    function _invest(address token, uint256 cashIn) private returns (uint256 shares) {
        IERC20 asset = IERC20(IERC4626(token).asset());
        asset.forceApprove(token, cashIn + 1);
        shares = IERC4626(token).deposit(cashIn, msg.sender);
        if (asset.allowance(address(this), token) != 1) asset.forceApprove(token, 1);
    }

    /// @inheritdoc IAssetAdapter
    function divest(address token, uint256 tokenAmount) external returns (uint256) {
        return IERC4626(token).redeem(tokenAmount, msg.sender, address(this));
    }

    /// @inheritdoc IAssetAdapter
    function investableNow(address token, address holder) external view returns (uint256) {
        return IERC4626(token).maxDeposit(holder);
    }

    /// @inheritdoc IAssetAdapter
    function redeemableNow(address token, address holder, uint256 balance) external view returns (uint256) {
        uint256 max = IERC4626(token).maxRedeem(holder);
        return max < balance ? max : balance;
    }
}
