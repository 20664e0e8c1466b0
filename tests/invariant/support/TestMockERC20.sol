// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TestStablecoin} from "../../../contracts/test/TestStablecoin.sol";

/// @notice The base token the ERC-4626 property suite drives: the project's test stablecoin
/// (open mint, the stablecoin's decimals) that anyone may also burn, so the suite can give the
/// vault a gain or take a loss.
contract TestMockERC20 is TestStablecoin {
    constructor(uint8 decimals_) TestStablecoin("Tether USD (test)", "USDT", decimals_) {}

    function burn(address from, uint256 value) external {
        _burn(from, value);
    }
}
