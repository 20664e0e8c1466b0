// SPDX-License-Identifier: GPL-2.0-or-later
pragma solidity ^0.8.24;

/// @title IUniswapV3Factory
/// @notice The part of Uniswap V3's factory (v3-core 1.0.1) the fund keeper's depth reader calls.
interface IUniswapV3Factory {
    /// @notice The pool of the pair at a fee tier (either token order), or address(0).
    function getPool(address tokenA, address tokenB, uint24 fee) external view returns (address pool);
}
