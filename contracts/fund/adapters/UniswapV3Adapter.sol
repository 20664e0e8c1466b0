// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IAssetAdapter} from "../../interfaces/IAssetAdapter.sol";
import {IUniswapV3SwapRouter} from "../../interfaces/external/IUniswapV3SwapRouter.sol";
import {SyncAdapter} from "./SyncAdapter.sol";

/// @title UniswapV3Adapter
/// @notice Buys and sells a DEX-traded token against the base asset through the Uniswap V3
/// SwapRouter (exactInputSingle). The swap asks the router for no minimum: the AssetController
/// measures what arrived and reverts with SlippageExceeded below its oracle-derived minimum, in
/// the same transaction, so a sandwich is refused with the fund's own error.
contract UniswapV3Adapter is SyncAdapter, Ownable {
    using SafeERC20 for IERC20;

    /// @notice No pool fee tier is configured for the token.
    error PoolNotConfigured(address token);
    /// @notice The fee tier is not one of Uniswap V3's (100, 500, 3000, 10000).
    error InvalidPoolFee(uint24 fee);
    /// @notice Zero address given for `what`.
    error ZeroAddress(string what);

    /// @notice A token's pool fee tier was set.
    event PoolFeeSet(address indexed token, uint24 fee);

    IUniswapV3SwapRouter public immutable router;
    IERC20 public immutable cash;
    /// @notice Pool fee tier per token (0 = not configured).
    mapping(address token => uint24) public poolFee;

    constructor(IUniswapV3SwapRouter router_, IERC20 cash_, address owner_) Ownable(owner_) {
        if (address(router_) == address(0)) revert ZeroAddress("router");
        if (address(cash_) == address(0)) revert ZeroAddress("cash");
        router = router_;
        cash = cash_;
    }

    /// @notice Sets the pool fee tier used for `token` against the base asset.
    function setPoolFee(address token, uint24 fee) external onlyOwner {
        if (token == address(0)) revert ZeroAddress("token");
        if (fee != 100 && fee != 500 && fee != 3000 && fee != 10000) revert InvalidPoolFee(fee);
        poolFee[token] = fee;
        emit PoolFeeSet(token, fee);
    }

    /// @inheritdoc IAssetAdapter
    function invest(address token, uint256 cashIn) external returns (uint256) {
        return _swap(address(cash), token, cashIn);
    }

    /// @inheritdoc IAssetAdapter
    function divest(address token, uint256 tokenAmount) external returns (uint256) {
        return _swap(token, address(cash), tokenAmount);
    }

    /// @inheritdoc IAssetAdapter
    function redeemableNow(address, address, uint256 balance) external pure returns (uint256) {
        return balance;
    }

    function _swap(address tokenIn, address tokenOut, uint256 amountIn) private returns (uint256) {
        address asset = tokenIn == address(cash) ? tokenOut : tokenIn;
        uint24 fee = poolFee[asset];
        if (fee == 0) revert PoolNotConfigured(asset);
        IERC20(tokenIn).forceApprove(address(router), amountIn);
        return router.exactInputSingle(
            IUniswapV3SwapRouter.ExactInputSingleParams({
                tokenIn: tokenIn,
                tokenOut: tokenOut,
                fee: fee,
                recipient: msg.sender,
                // Inside one transaction the router's deadline cannot lapse; freshness is the
                // keeper's (signed transactions expire with their nonce) and price safety is the
                // controller's oracle minimum.
                deadline: block.timestamp,
                amountIn: amountIn,
                amountOutMinimum: 0,
                sqrtPriceLimitX96: 0
            })
        );
    }
}
