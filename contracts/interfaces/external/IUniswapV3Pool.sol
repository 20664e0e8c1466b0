// SPDX-License-Identifier: GPL-2.0-or-later
pragma solidity ^0.8.24;

/// @title IUniswapV3Pool
/// @notice The state of a Uniswap V3 pool (v3-core 1.0.1 IUniswapV3PoolState and
/// IUniswapV3PoolImmutables) the fund keeper's depth reader reads to size trades exactly.
interface IUniswapV3Pool {
    /// @notice The current price, tick and oracle/protocol-fee state.
    function slot0()
        external
        view
        returns (
            uint160 sqrtPriceX96,
            int24 tick,
            uint16 observationIndex,
            uint16 observationCardinality,
            uint16 observationCardinalityNext,
            uint8 feeProtocol,
            bool unlocked
        );

    /// @notice The in-range liquidity.
    function liquidity() external view returns (uint128);

    /// @notice The fee tier in hundredths of a bip.
    function fee() external view returns (uint24);

    /// @notice The spacing of initialisable ticks.
    function tickSpacing() external view returns (int24);

    /// @notice The lower-sorted token of the pair.
    function token0() external view returns (address);

    /// @notice One 256-tick word of the initialised-tick bitmap.
    function tickBitmap(int16 wordPosition) external view returns (uint256);

    /// @notice The state of one tick.
    function ticks(int24 tick)
        external
        view
        returns (
            uint128 liquidityGross,
            int128 liquidityNet,
            uint256 feeGrowthOutside0X128,
            uint256 feeGrowthOutside1X128,
            int56 tickCumulativeOutside,
            uint160 secondsPerLiquidityOutsideX128,
            uint32 secondsOutside,
            bool initialized
        );
}
