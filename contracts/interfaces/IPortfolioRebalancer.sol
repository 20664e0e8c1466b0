// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IRebalanceTarget} from "./IRebalanceTarget.sol";

/// @title IPortfolioRebalancer
/// @notice A portfolio of N ERC-20 assets plus a quote asset (USDT, 6 or 18 decimals) that every
/// asset trades against on Uniswap V3. Each asset and the quote have a target weight in bps that
/// sum to 10,000. Values are in quote base units at Chainlink prices (quote per whole token; the
/// quote itself is valued at 1). A rebalance sells over-weighted assets for quote, then buys
/// under-weighted ones, and must leave the total absolute weight deviation lower than it found
/// it and the portfolio's value no more than `maxTotalValueLossBps` lower. No call buys an asset
/// it sold. Keeper-initiated moves (rebalance, executePlan) also share two budgets per window
/// (`Budgets`): the value they lose and the notional they move, so a stolen keeper or rebalancer
/// key loses at most `lossPerWindow` per window (2x in any `period` seconds spanning two windows).
interface IPortfolioRebalancer is IRebalanceTarget {
    /* TYPES */

    /// @param token The asset (never the quote).
    /// @param feed Chainlink AggregatorV3Interface: price of one whole token in quote units.
    /// @param poolFee Fee tier of the asset/quote Uniswap V3 pool the asset trades on.
    /// @param targetBps Target weight.
    struct AssetConfig {
        address token;
        address feed;
        uint24 poolFee;
        uint16 targetBps;
    }

    /// @param maxStaleness A price older than this (seconds) is refused.
    /// @param maxSlippageBps Each swap must return at least the oracle amount minus this.
    /// @param maxTotalValueLossBps A rebalance may lose at most this share of the value.
    /// @param driftThresholdBps rebalance(false) does nothing while the total absolute deviation
    /// is below this.
    /// @param minBuyQuote Buys smaller than this (quote units) are skipped as dust.
    struct Params {
        uint32 maxStaleness;
        uint16 maxSlippageBps;
        uint16 maxTotalValueLossBps;
        uint16 driftThresholdBps;
        uint256 minBuyQuote;
    }

    /// @param lossPerWindow Value (quote units, oracle prices) keeper-initiated moves may lose
    /// per window, summed over calls; gains are not credited back.
    /// @param notionalPerWindow Value they may move per window: oracle value sold plus quote
    /// spent on buys.
    /// @param period Window length in seconds (a day by default). The three share one slot.
    struct Budgets {
        uint112 lossPerWindow;
        uint112 notionalPerWindow;
        uint32 period;
    }

    /* ERRORS */

    /// @notice Target weights (assets + quote) do not sum to 10,000 bps.
    error WeightsSumInvalid(uint256 totalBps);
    error ZeroAddress();
    /// @notice An asset is listed twice or is the quote.
    error DuplicateAsset(address token);
    error LengthMismatch(uint256 expected, uint256 actual);
    /// @notice A bps parameter is above 10,000 (or the slippage/loss caps above 50%).
    error ParamOutOfRange(uint256 value, uint256 max);
    error StalePrice(address feed, uint256 updatedAt, uint256 maxStaleness);
    error InvalidPrice(address feed, int256 answer);
    error SellExceedsBalance(address token, uint256 amount, uint256 balance);
    error BuyExceedsQuote(address token, uint256 amount, uint256 balance);
    /// @notice Total absolute deviation (1e18 = 100%) did not go down.
    error DeviationNotImproved(uint256 beforeWad, uint256 afterWad);
    /// @notice The rebalance lost more value than allowed (`lost` in quote units).
    error ValueLossExceeded(uint256 lost, uint256 maxLost);
    /// @notice A plan sells and buys the same asset (a round trip that only pays fees).
    error SoldAssetBought(address token);
    /// @notice Raising a budget or shortening its period is risk-increasing: admin only.
    error BudgetRaiseNeedsAdmin(address caller);
    /// @dev Window overruns revert with WindowBudgetLib.WindowBudgetExceeded(used, amount, budget).

    /* EVENTS */

    event Swapped(address indexed tokenIn, address indexed tokenOut, uint256 amountIn, uint256 amountOut);
    event Rebalanced(
        address indexed caller,
        bool planned,
        uint256 valueBefore,
        uint256 valueAfter,
        uint256 deviationBeforeWad,
        uint256 deviationAfterWad
    );
    event TargetsUpdated(uint16[] targetsBps, uint16 quoteTargetBps);
    event ParamsUpdated(Params params);
    event BudgetsUpdated(Budgets budgets);
    event Withdrawn(address indexed token, address indexed to, uint256 amount);

    /* KEEPER */

    /// @notice Executes a keeper-made plan: sells `sells[i]` of asset i for quote, then spends
    /// `buys[i]` quote on asset i, each swap held to the oracle minimum out. Same post-checks as
    /// rebalance: deviation must improve and value lost stay under maxTotalValueLossBps; the value
    /// lost and the notional count against the window budgets. An asset with both a sell and a
    /// buy reverts with SoldAssetBought.
    /// @dev KEEPER_ROLE only.
    /// @return valueAfter Portfolio value after the plan (quote units, oracle prices).
    /// @return deviationAfterWad Total absolute deviation after the plan (1e18 = 100%).
    function executePlan(uint256[] calldata sells, uint256[] calldata buys)
        external
        returns (uint256 valueAfter, uint256 deviationAfterWad);

    /* ADMIN */

    /// @notice Sets every asset's target and the quote's; they must sum to 10,000.
    function setTargets(uint16[] calldata targetsBps, uint16 quoteTargetBps) external;

    /// @notice Sets the guard parameters.
    function setParams(Params calldata params) external;

    /// @notice Sets the window budgets. The admin (the timelock in production) may set anything;
    /// GUARDIAN_ROLE may only lower a budget or lengthen the period (immediate de-risking).
    /// Lowering below what the window already used blocks moves until the window ends.
    function setBudgets(Budgets calldata budgets) external;

    /// @notice Moves tokens out of the portfolio.
    function withdraw(address token, address to, uint256 amount) external;

    /* VIEWS */

    function REBALANCER_ROLE() external view returns (bytes32);
    function KEEPER_ROLE() external view returns (bytes32);
    function GUARDIAN_ROLE() external view returns (bytes32);
    function budgets() external view returns (Budgets memory);

    /// @notice Value lost and notional moved in the current window (0 once it has ended).
    function budgetUsed() external view returns (uint256 lossUsed, uint256 notionalUsed);
    function quote() external view returns (address);
    function router() external view returns (address);
    function quoteTargetBps() external view returns (uint16);
    function params() external view returns (Params memory);
    function assetCount() external view returns (uint256);
    function assetAt(uint256 index) external view returns (AssetConfig memory);

    /// @notice Value of each asset, of the quote, the total (quote units at fresh oracle
    /// prices) and the total absolute deviation (1e18 = 100%). Reverts on a stale price.
    function portfolioState()
        external
        view
        returns (uint256[] memory values, uint256 quoteValue, uint256 total, uint256 deviationWad);
}
