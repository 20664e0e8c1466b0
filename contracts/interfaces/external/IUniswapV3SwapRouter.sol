// SPDX-License-Identifier: GPL-2.0-or-later
pragma solidity ^0.8.24;

/// @notice The part of Uniswap V3's SwapRouter (v3-periphery 1.4.4) this project calls (the
/// UniswapV3Adapter and the PortfolioRebalancer); the deployed router is the npm artifact's
/// bytecode. Copied from the periphery's ISwapRouter.sol because that file pins solidity
/// >=0.7.5 with abicoder v2 and the periphery package is not an ape dependency.
interface IUniswapV3SwapRouter {
    struct ExactInputSingleParams {
        address tokenIn;
        address tokenOut;
        uint24 fee;
        address recipient;
        uint256 deadline;
        uint256 amountIn;
        uint256 amountOutMinimum;
        uint160 sqrtPriceLimitX96;
    }

    /// @notice The Uniswap V3 factory the router swaps through (PeripheryImmutableState).
    function factory() external view returns (address);

    /// @notice Swaps `amountIn` of one token for as much as possible of another token.
    function exactInputSingle(ExactInputSingleParams calldata params) external payable returns (uint256 amountOut);
}
