// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @notice Test double (invariant suites only): OpenZeppelin's ERC4626 that keeps an exit fee
/// for its remaining holders, like a fund with a redemption charge or a position sold below
/// its marked value. Every buy-and-sell round trip loses value at oracle prices, so a keeper
/// key that churns it is stopped only by the controller's loss budget.
contract TestExitFeeFund is ERC4626 {
    uint256 public immutable exitFeeBps;

    constructor(IERC20 asset_, string memory name_, uint256 feeBps) ERC20(name_, name_) ERC4626(asset_) {
        exitFeeBps = feeBps;
    }

    function previewRedeem(uint256 shares) public view override returns (uint256) {
        uint256 gross = super.previewRedeem(shares);
        return gross - Math.mulDiv(gross, exitFeeBps, 10_000, Math.Rounding.Ceil);
    }

    function previewWithdraw(uint256 assets) public view override returns (uint256) {
        return super.previewWithdraw(Math.mulDiv(assets, 10_000, 10_000 - exitFeeBps, Math.Rounding.Ceil));
    }
}
