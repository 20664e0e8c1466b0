// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IAssetAdapter} from "../../interfaces/IAssetAdapter.sol";
import {IUniswapV3Factory} from "../../interfaces/external/IUniswapV3Factory.sol";
import {IUniswapV3Pool} from "../../interfaces/external/IUniswapV3Pool.sol";
import {IUniswapV3SwapRouter} from "../../interfaces/external/IUniswapV3SwapRouter.sol";
import {SyncAdapter} from "./SyncAdapter.sol";
import {ReleaseLib} from "../../libraries/ReleaseLib.sol";

/// @title UniswapV3Adapter
/// @notice Buys and sells a DEX-traded token against the base asset through the Uniswap V3
/// SwapRouter (exactInputSingle). The swap asks the router for no minimum: the AssetController
/// measures what arrived and reverts with SlippageExceeded below its oracle-derived minimum, in
/// the same transaction, so a sandwich is refused with the fund's own error.
/// investWithin and divestWithin (the controller's own rebalance) swap with a price limit: the
/// pool fills up to the price at which the next unit would come in under the caller's rate and
/// no further, and the unspent input goes back to the caller. A pool moved past that price
/// fills nothing, so a front-run cannot make the fund trade at a worse rate than its bound.
/// With `scheduled` (the controller sets it on a scheduled run, which anyone may execute inside
/// a transaction of their own) they fill nothing and return the whole input: whoever executes
/// a run chooses the pool's price in that block (a plain sandwich moves it, a just-in-time
/// position is the liquidity the leg would fill against), so the scheduled run leaves pool
/// legs to the keeper's planned, simulated and approved moves (docs/trust-model.md).
contract UniswapV3Adapter is SyncAdapter, Ownable {
    /// @notice The contract release this code belongs to (ASCII in a bytes32, e.g. "0.2.0"): the
    /// keepers refuse to drive contracts of a release their ABIs do not belong to.
    bytes32 public constant RELEASE = ReleaseLib.RELEASE;

    using SafeERC20 for IERC20;

    /// @notice No pool fee tier is configured for the token.
    error PoolNotConfigured(address token);
    /// @notice The fee tier is not one of Uniswap V3's (100, 500, 3000, 10000).
    error InvalidPoolFee(uint24 fee);
    /// @notice No Uniswap V3 pool exists for the pair at the configured fee tier.
    error PoolMissing(address token, uint24 fee);
    /// @notice Zero address given for `what`.
    error ZeroAddress(string what);

    /// @notice A token's pool fee tier was set.
    event PoolFeeSet(address indexed token, uint24 fee);

    /// @dev TickMath's bounds (v3-core 1.0.1): a price limit must lie strictly inside them.
    uint160 private constant _MIN_SQRT_RATIO = 4295128739;
    uint160 private constant _MAX_SQRT_RATIO = 1461446703485210103287273052203988822378723970342;
    uint256 private constant _FEE_UNIT = 1e6;

    IUniswapV3SwapRouter public immutable router;
    IUniswapV3Factory public immutable factory;
    IERC20 public immutable cash;
    /// @notice Pool fee tier per token (0 = not configured).
    mapping(address token => uint24) public poolFee;

    constructor(IUniswapV3SwapRouter router_, IERC20 cash_, address owner_) Ownable(owner_) {
        if (address(router_) == address(0)) revert ZeroAddress("router");
        if (address(cash_) == address(0)) revert ZeroAddress("cash");
        router = router_;
        factory = IUniswapV3Factory(router_.factory());
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
    function investWithin(address token, uint256 cashIn, uint256 minOut, bool scheduled) external returns (uint256) {
        return _swapWithin(address(cash), token, cashIn, minOut, scheduled);
    }

    /// @inheritdoc IAssetAdapter
    function divestWithin(address token, uint256 tokenAmount, uint256 minOut, bool scheduled)
        external
        returns (uint256)
    {
        return _swapWithin(token, address(cash), tokenAmount, minOut, scheduled);
    }

    /// @inheritdoc IAssetAdapter
    /// @dev A pool takes any amount; the controller's price bound decides how much fills.
    function investableNow(address, address) external pure returns (uint256) {
        return type(uint256).max;
    }

    /// @inheritdoc IAssetAdapter
    function redeemableNow(address, address, uint256 balance) external pure returns (uint256) {
        return balance;
    }

    function _swap(address tokenIn, address tokenOut, uint256 amountIn) private returns (uint256) {
        (, uint24 fee) = _feeOf(tokenIn, tokenOut);
        return _exactIn(tokenIn, tokenOut, fee, amountIn, 0);
    }

    /// @dev Swaps at most `amountIn` with the pool's price limit set where the marginal rate
    /// (fee included) reaches minOut / amountIn; returns the unspent input to the caller. A
    /// `scheduled` leg fills nothing (see the contract's notice).
    function _swapWithin(address tokenIn, address tokenOut, uint256 amountIn, uint256 minOut, bool scheduled)
        private
        returns (uint256 out)
    {
        (address asset, uint24 fee) = _feeOf(tokenIn, tokenOut);
        address pool = factory.getPool(tokenIn, tokenOut, fee);
        if (pool == address(0)) revert PoolMissing(asset, fee);
        uint160 limit = scheduled ? 0 : _withinLimit(pool, tokenIn < tokenOut, amountIn, minOut, fee);
        // a scheduled leg, or a pool already at or past the limit, fills nothing (the pool would
        // revert the swap)
        if (limit == 0) {
            IERC20(tokenIn).safeTransfer(msg.sender, amountIn);
            return 0;
        }
        uint256 before = IERC20(tokenIn).balanceOf(address(this));
        out = _exactIn(tokenIn, tokenOut, fee, amountIn, limit);
        uint256 spent = before - IERC20(tokenIn).balanceOf(address(this));
        if (spent < amountIn) {
            IERC20(tokenIn).forceApprove(address(router), 0); // the unused allowance
            IERC20(tokenIn).safeTransfer(msg.sender, amountIn - spent);
        }
    }

    /// @dev The rate's limit; 0 when the pool already stands at or past it.
    function _withinLimit(address pool, bool zeroForOne, uint256 amountIn, uint256 minOut, uint24 fee)
        private
        view
        returns (uint160 limit)
    {
        limit = _sqrtPriceLimit(zeroForOne, amountIn, minOut, fee);
        (uint160 current,,,,,,) = IUniswapV3Pool(pool).slot0();
        if (!(zeroForOne ? limit < current : limit > current)) return 0;
    }

    /// @dev The asset of a pair with the base and its configured fee tier.
    function _feeOf(address tokenIn, address tokenOut) private view returns (address asset, uint24 fee) {
        asset = tokenIn == address(cash) ? tokenOut : tokenIn;
        fee = poolFee[asset];
        if (fee == 0) revert PoolNotConfigured(asset);
    }

    /// @dev The router's exactInputSingle, output to the caller, no minimum (the controller
    /// measures what arrived against its oracle minimum), `limit` 0: no price limit.
    function _exactIn(address tokenIn, address tokenOut, uint24 fee, uint256 amountIn, uint160 limit)
        private
        returns (uint256)
    {
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
                sqrtPriceLimitX96: limit
            })
        );
    }

    /// @dev The sqrt price (Q64.96, token1 per token0 in raw units) at which one more unit of
    /// input would fill at less than minOut / amountIn after the pool fee: rounded towards the
    /// stricter side, clamped inside TickMath's bounds. minOut 0 means no limit.
    function _sqrtPriceLimit(bool zeroForOne, uint256 amountIn, uint256 minOut, uint24 fee)
        private
        pure
        returns (uint160)
    {
        if (minOut == 0) return zeroForOne ? _MIN_SQRT_RATIO + 1 : _MAX_SQRT_RATIO - 1;
        uint256 net = amountIn * (_FEE_UNIT - fee);
        uint256 gross = minOut * _FEE_UNIT;
        // selling token0 lowers the price: it may fall to gross / net; buying it raises the
        // price: it may rise to net / gross
        (uint256 num, uint256 den) = zeroForOne ? (gross, net) : (net, gross);
        // a limit past the top: selling token0 fills nothing, buying it is not limited
        if (den == 0 || num / den >= 1 << 64) return _MAX_SQRT_RATIO - 1;
        Math.Rounding r = zeroForOne ? Math.Rounding.Ceil : Math.Rounding.Floor;
        uint256 root = Math.sqrt(Math.mulDiv(num, 1 << 192, den, r), r);
        if (root <= _MIN_SQRT_RATIO) return _MIN_SQRT_RATIO + 1;
        if (root >= _MAX_SQRT_RATIO) return _MAX_SQRT_RATIO - 1;
        return uint160(root);
    }
}
