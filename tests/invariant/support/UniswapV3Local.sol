// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {CheatBase} from "./InvariantBase.sol";
import {TestStablecoin} from "../../../contracts/test/TestStablecoin.sol";

interface IUniswapV3FactoryLike {
    function createPool(address tokenA, address tokenB, uint24 fee) external returns (address pool);
}

interface IUniswapV3PoolLike {
    function token0() external view returns (address);
    function initialize(uint160 sqrtPriceX96) external;
    function mint(address recipient, int24 tickLower, int24 tickUpper, uint128 amount, bytes calldata data)
        external
        returns (uint256 amount0, uint256 amount1);
    function slot0() external view returns (uint160, int24, uint16, uint16, uint16, uint8, bool);
}

/// @notice Real Uniswap V3 (the factory and SwapRouter bytecode from npm) for the invariant
/// suites: pools at a given price with full-range liquidity paid by minting the test tokens.
contract UniswapV3Local is CheatBase {
    int24 internal constant FULL_RANGE_3000 = 887_220; // the widest ticks on a 60 spacing
    address public immutable factory;
    address public immutable router;

    constructor(address weth) {
        factory = _create(vm.getCode("node_modules/@uniswap/v3-core/artifacts/contracts/UniswapV3Factory.sol/UniswapV3Factory.json"));
        router = _create(
            abi.encodePacked(
                vm.getCode("node_modules/@uniswap/v3-periphery/artifacts/contracts/SwapRouter.sol/SwapRouter.json"),
                abi.encode(factory, weth)
            )
        );
    }

    function _create(bytes memory code) internal returns (address a) {
        assembly ("memory-safe") {
            a := create(0, add(code, 0x20), mload(code))
        }
        require(a != address(0), "deploy failed");
    }

    /// @notice A 0.3% pool of `token` against `quote` at `quotePerToken` (raw quote units per
    /// whole token), holding about `quoteDepth` of quote on each side's value.
    function pool(TestStablecoin token, TestStablecoin quote, uint256 quotePerToken, uint256 quoteDepth)
        external
        returns (address p)
    {
        p = IUniswapV3FactoryLike(factory).createPool(address(token), address(quote), 3000);
        bool tokenIs0 = IUniswapV3PoolLike(p).token0() == address(token);
        uint160 sqrtP = _sqrtPrice(tokenIs0, 10 ** token.decimals(), quotePerToken);
        IUniswapV3PoolLike(p).initialize(sqrtP);
        // full range: amount1 ~ L * sqrtP / 2^96, so L ~ amount1 * 2^96 / sqrtP
        uint256 amount1 = tokenIs0 ? quoteDepth : Math.mulDiv(quoteDepth, 10 ** token.decimals(), quotePerToken);
        uint128 liquidity = uint128(Math.mulDiv(amount1, 1 << 96, sqrtP));
        bytes memory data = abi.encode(token, quote);
        IUniswapV3PoolLike(p).mint(address(this), -FULL_RANGE_3000, FULL_RANGE_3000, liquidity, data);
    }

    /// @dev sqrt(token1 per token0, raw units) in Q96.
    function _sqrtPrice(bool tokenIs0, uint256 tokenUnit, uint256 quotePerToken) internal pure returns (uint160) {
        uint256 priceX192 = tokenIs0
            ? Math.mulDiv(quotePerToken, 1 << 192, tokenUnit)
            : Math.mulDiv(tokenUnit, 1 << 192, quotePerToken);
        return uint160(Math.sqrt(priceX192));
    }

    /// @dev Pays the pool what the position owes by minting the (open-mint) test tokens.
    function uniswapV3MintCallback(uint256 owed0, uint256 owed1, bytes calldata data) external {
        (TestStablecoin a, TestStablecoin b) = abi.decode(data, (TestStablecoin, TestStablecoin));
        (TestStablecoin t0, TestStablecoin t1) =
            IUniswapV3PoolLike(msg.sender).token0() == address(a) ? (a, b) : (b, a);
        if (owed0 != 0) t0.mint(msg.sender, owed0);
        if (owed1 != 0) t1.mint(msg.sender, owed1);
    }
}
