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

    /// @dev The fund is approved once for good, not for each deposit: this adapter holds no
    /// cash between calls (the controller sends it in and the fund pulls it in the same call),
    /// so a standing allowance reaches nothing, and anyone could already make this adapter
    /// approve any amount to any contract that names an asset. Setting and spending an exact
    /// allowance cost every deposit two writes of a fresh slot (about 22k gas of a rebalance's
    /// budget per leg, refunded only up to a fifth of the transaction). The allowance is not
    /// read first either: the deposit is tried as it is, and only a deposit that fails (the
    /// first one a fund gets, without the allowance) approves and tries once more, so a failure
    /// of any other kind still reverts with the fund's own error, and the approval with it. The
    /// usual deposit saves the fund's asset() and the allowance's cold read (about 1,500 gas a
    /// leg: the fund's transferFrom then reads it cold instead of warm).
    function _invest(address token, uint256 cashIn) private returns (uint256) {
        try IERC4626(token).deposit(cashIn, msg.sender) returns (uint256 shares) {
            return shares;
        } catch {
            IERC20(IERC4626(token).asset()).forceApprove(token, type(uint256).max);
            return IERC4626(token).deposit(cashIn, msg.sender);
        }
    }

    /// @inheritdoc IAssetAdapter
    function divest(address token, uint256 tokenAmount) external returns (uint256) {
        return IERC4626(token).redeem(tokenAmount, msg.sender, address(this));
    }

    /// @inheritdoc IAssetAdapter
    function redeemableNow(address token, address holder, uint256 balance) external view returns (uint256) {
        uint256 max = IERC4626(token).maxRedeem(holder);
        return max < balance ? max : balance;
    }
}
