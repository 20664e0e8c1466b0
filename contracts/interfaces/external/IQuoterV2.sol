// SPDX-License-Identifier: GPL-2.0-or-later
pragma solidity ^0.8.24;

/// @title IQuoterV2
/// @notice The part of Uniswap V3's QuoterV2 (v3-periphery 1.4.4) the fund keeper calls: exact
/// input quotes on the real pool (by eth_call; the function is not view because the quoter
/// reverts from inside the swap callback) and the factory it quotes against.
interface IQuoterV2 {
    struct QuoteExactInputSingleParams {
        address tokenIn;
        address tokenOut;
        uint256 amountIn;
        uint24 fee;
        uint160 sqrtPriceLimitX96;
    }

    /// @notice What a single-pool exact-input swap would return, and its path through the pool.
    function quoteExactInputSingle(QuoteExactInputSingleParams memory params)
        external
        returns (uint256 amountOut, uint160 sqrtPriceX96After, uint32 initializedTicksCrossed, uint256 gasEstimate);

    /// @notice The Uniswap V3 factory the quoter finds its pools in (PeripheryImmutableState).
    function factory() external view returns (address);
}
