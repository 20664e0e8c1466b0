// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

interface IMarkable {
    function mark() external returns (uint256);
}

/// @notice A tokenized fund with a transfer hook (as an ERC-777-style or upgradeable token could
/// have): when its shares are minted or sent to `target`, it calls target.mark() mid-move, storing a
/// half-done valuation unless mark() is reentrancy-guarded. Test double.
contract TestReentrantFund is ERC4626 {
    address public immutable target;

    constructor(IERC20 asset_, address target_) ERC20("Reentrant fund", "REFD") ERC4626(asset_) {
        target = target_;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (to == target) IMarkable(target).mark();
    }
}
