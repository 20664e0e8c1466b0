// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {InvariantBase} from "./support/InvariantBase.sol";
import {UniswapV3Local} from "./support/UniswapV3Local.sol";
import {PortfolioHandler} from "./handlers/PortfolioHandler.sol";
import {PortfolioRebalancer} from "../../contracts/portfolio/PortfolioRebalancer.sol";
import {IPortfolioRebalancer} from "../../contracts/interfaces/IPortfolioRebalancer.sol";
import {TestStablecoin} from "../../contracts/test/TestStablecoin.sol";
import {TestPriceFeed} from "../../contracts/test/TestPriceFeed.sol";
import {TestWETH9} from "../../contracts/test/TestWETH9.sol";

/// @notice PortfolioRebalancer on real Uniswap V3 pools (npm bytecode) under a compromised
/// keeper key, an attacker who pushes the pools around the keeper's swaps, market moves and
/// time. Two assets (18 decimals at 2,000 and 8 decimals at 30,000 quote) and the quote (6 or
/// 18 decimals); pools about 2M quote deep; a 60k portfolio; a 50 quote loss budget a day (a sandwiched 9k plan loses about 50).
abstract contract PortfolioInvariants is InvariantBase {
    uint112 internal constant LOSS_BUDGET_UNITS = 50;
    uint112 internal constant NOTIONAL_BUDGET_UNITS = 500_000;
    uint32 internal constant PERIOD = 1 days;

    PortfolioHandler internal handler;
    PortfolioRebalancer internal portfolio;
    TestStablecoin internal quote;
    uint256 internal q;

    function _decimals() internal pure virtual returns (uint8);

    function setUp() public {
        vm.warp(1_750_000_000);
        quote = new TestStablecoin("Tether USD (test)", "USDT", _decimals());
        q = 10 ** _decimals();
        UniswapV3Local uni = new UniswapV3Local(address(new TestWETH9()));
        TestStablecoin[] memory assets = new TestStablecoin[](2);
        TestPriceFeed[] memory feeds = new TestPriceFeed[](2);
        assets[0] = new TestStablecoin("Wrapped Ether (test)", "WETH", 18);
        assets[1] = new TestStablecoin("Wrapped Bitcoin (test)", "WBTC", 8);
        feeds[0] = new TestPriceFeed(8, 2_000e8);
        feeds[1] = new TestPriceFeed(8, 30_000e8);
        uni.pool(assets[0], quote, 2_000 * q, 2_000_000 * q);
        uni.pool(assets[1], quote, 30_000 * q, 2_000_000 * q);

        IPortfolioRebalancer.AssetConfig[] memory cfg = new IPortfolioRebalancer.AssetConfig[](2);
        cfg[0] = IPortfolioRebalancer.AssetConfig(address(assets[0]), address(feeds[0]), 3000, 4500);
        cfg[1] = IPortfolioRebalancer.AssetConfig(address(assets[1]), address(feeds[1]), 3000, 4500);
        portfolio = new PortfolioRebalancer(
            address(this),
            address(quote),
            uni.router(),
            cfg,
            1000,
            IPortfolioRebalancer.Params(3600, 300, 200, 100, 0),
            IPortfolioRebalancer.Budgets(LOSS_BUDGET_UNITS * uint112(q), NOTIONAL_BUDGET_UNITS * uint112(q), PERIOD)
        );
        portfolio.grantRole(portfolio.REBALANCER_ROLE(), keeper);
        portfolio.grantRole(portfolio.KEEPER_ROLE(), keeper);
        // 60k, off target: 30k of WETH, 20k of WBTC (in raw units), 10k quote
        assets[0].mint(address(portfolio), 15e18);
        assets[1].mint(address(portfolio), 66_666_666);
        quote.mint(address(portfolio), 10_000 * q);

        handler = new PortfolioHandler(portfolio, quote, uni.router(), assets, feeds);
        targetContract(address(handler));
    }

    /// @notice No keeper swap returns less than the oracle value less the slippage bound, and
    /// eve never runs a keeper or admin function.
    function invariant_swapsWithinOracleBoundAndRolesHold() public view {
        check(bytes(handler.broken()).length == 0, handler.broken());
    }

    /// @notice What the keeper's moves lose (measured here at the feeds' prices) never passes
    /// twice the per-window budget in any window-long span (tumbling windows).
    function invariant_keeperLossWithinWindowBudget() public view {
        (uint256[] memory at, uint256[] memory lost) = handler.lossLog();
        checkLossWithinWindowBudget(at, lost, PERIOD, uint256(LOSS_BUDGET_UNITS) * q, 0, at.length);
    }

    /// @notice The contract's own window books never pass the budgets.
    function invariant_budgetUsedWithinBudgets() public view {
        (uint256 loss, uint256 notional) = portfolio.budgetUsed();
        checkUsageWithinBudgets(loss, notional, uint256(LOSS_BUDGET_UNITS) * q, uint256(NOTIONAL_BUDGET_UNITS) * q);
    }

    /// @notice Nothing leaves the portfolio but through its swaps: the keeper and eve never
    /// hold its quote from a move (eve's balance is only what she bought from the pools).
    function invariant_keeperHoldsNothing() public view {
        check(quote.balanceOf(keeper) == 0, "keeper holds quote");
        check(handler.assets(0).balanceOf(keeper) == 0 && handler.assets(1).balanceOf(keeper) == 0, "keeper holds an asset");
    }
}

contract PortfolioInvariants6 is PortfolioInvariants {
    function _decimals() internal pure override returns (uint8) {
        return 6;
    }
}

contract PortfolioInvariants18 is PortfolioInvariants {
    function _decimals() internal pure override returns (uint8) {
        return 18;
    }
}
