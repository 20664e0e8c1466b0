// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IAssetControllerTypes} from "../interfaces/IAssetControllerTypes.sol";

/// @notice A tokenized fund with a transfer hook (as an ERC-777-style or upgradeable token could
/// have): when its shares are minted or sent to `watched` (the fund's controller), it calls
/// `hook` with `hookData` once, so that whoever armed it acts in the middle of the controller's
/// move. Test double.
contract TestHookedVenue is ERC4626 {
    address public immutable watched;
    address public hook;
    bytes public hookData;
    bool public hookOk;
    bytes public hookReturn;

    constructor(IERC20 asset_, address watched_) ERC20("Hooked venue", "HOOKV") ERC4626(asset_) {
        watched = watched_;
    }

    /// @notice Arms the hook for the next transfer to `watched` (anyone: it is a test double).
    function arm(address hook_, bytes calldata data) external {
        (hook, hookData) = (hook_, data);
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        address h = hook;
        if (to == watched && h != address(0)) {
            hook = address(0);
            (hookOk, hookReturn) = h.call(hookData);
        }
    }
}

/// @notice The attacker's contract behind the hook: holds cash and shares, and calls anything.
contract TestMidMoveCaller {
    function exec(address target, bytes calldata data) external returns (bytes memory) {
        (bool ok, bytes memory ret) = target.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
        return ret;
    }
}

/// @notice Emits the controller's fill events (`Purchased`, `Redeemed`) from its own address, as
/// any venue or token the controller's move calls could: what the keepers book as the fund's
/// fills must come from the controller alone. Test double.
contract TestForgedFill is IAssetControllerTypes {
    function forge(address token, uint256 cashIn, uint256 tokensOut) external {
        emit Purchased(token, cashIn, tokensOut, false);
        emit Redeemed(token, tokensOut, cashIn, false);
    }
}
