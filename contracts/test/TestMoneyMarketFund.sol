// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @notice Local stand-in for a tokenized money-market fund: OpenZeppelin's ERC4626 over the
/// base stablecoin. Yield accrues by donating cash to it. Also serves as the plain-ERC4626
/// baseline in the gas benchmark. Test double, never deployed by production profiles.
contract TestMoneyMarketFund is ERC4626 {
    constructor(IERC20 asset_, string memory name_, string memory symbol_) ERC20(name_, symbol_) ERC4626(asset_) {}
}
