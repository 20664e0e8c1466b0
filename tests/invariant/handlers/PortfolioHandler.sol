// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {Cast, CheatBase} from "../support/InvariantBase.sol";
import {PortfolioRebalancer} from "../../../contracts/portfolio/PortfolioRebalancer.sol";
import {IPortfolioRebalancer} from "../../../contracts/interfaces/IPortfolioRebalancer.sol";
import {IUniswapV3SwapRouter} from "../../../contracts/interfaces/external/IUniswapV3SwapRouter.sol";
import {TestStablecoin} from "../../../contracts/test/TestStablecoin.sol";
import {TestPriceFeed} from "../../../contracts/test/TestPriceFeed.sol";

/// @notice Actors of the portfolio suite: a compromised keeper key (plans of any size, the
/// permissionless-looking rebalance), an attacker (eve) who pushes the real Uniswap V3 pools
/// before and after the keeper's swaps and tries the admin paths, the market and time.
contract PortfolioHandler is CheatBase, Cast {
    uint256 internal constant FEED_ONE = 1e8;

    PortfolioRebalancer public immutable portfolio;
    TestStablecoin public immutable quote;
    address public immutable router;
    uint256 public immutable slippageBps;
    TestStablecoin[] public assets;
    TestPriceFeed[] public feeds;
    uint256[] public basePrice;

    uint256[] public lossAt;
    uint256[] public lossAmount;
    string public broken;

    constructor(
        PortfolioRebalancer portfolio_,
        TestStablecoin quote_,
        address router_,
        TestStablecoin[] memory assets_,
        TestPriceFeed[] memory feeds_
    ) {
        portfolio = portfolio_;
        quote = quote_;
        router = router_;
        assets = assets_;
        feeds = feeds_;
        slippageBps = portfolio_.params().maxSlippageBps;
        for (uint256 i; i < feeds_.length; ++i) {
            (, int256 a,,,) = feeds_[i].latestRoundData();
            basePrice.push(uint256(a));
        }
    }

    function _fail(string memory what) internal {
        _latch(broken, what);
    }

    /// @dev What the keeper's moves lost, and when (the suite's window-long spans).
    function lossLog() external view returns (uint256[] memory, uint256[] memory) {
        return (lossAt, lossAmount);
    }

    function _oracleValue(uint256 i, uint256 amount) internal view returns (uint256) {
        (, int256 answer,,,) = feeds[i].latestRoundData();
        return Math.mulDiv(amount, uint256(answer) * 10 ** quote.decimals(), FEED_ONE * 10 ** assets[i].decimals());
    }

    /// @dev The portfolio's value at the feeds' answers, computed here.
    function value() public view returns (uint256 v) {
        v = quote.balanceOf(address(portfolio));
        for (uint256 i; i < assets.length; ++i) {
            v += _oracleValue(i, assets[i].balanceOf(address(portfolio)));
        }
    }

    function _record(uint256 before) internal {
        uint256 afterValue = value();
        if (afterValue < before) {
            lossAt.push(block.timestamp);
            lossAmount.push(before - afterValue);
        }
    }

    /* the compromised keeper */

    /// @notice A plan of the keeper key's making: sells any amount of one asset and spends any
    /// amount of quote on the other (a lone sell or buy rarely improves the deviation, which
    /// the contract requires). Each leg must return at least the oracle value less the
    /// slippage bound, however eve pushed the pool.
    function keeperPlan(uint256 seed, uint256 sellAmount, uint256 buyAmount) external {
        uint256 i = seed % assets.length;
        uint256 j = (i + 1) % assets.length;
        uint256[] memory sells = new uint256[](assets.length);
        uint256[] memory buys = new uint256[](assets.length);
        sells[i] = bound(sellAmount, 0, assets[i].balanceOf(address(portfolio)));
        buys[j] = bound(buyAmount, 0, quote.balanceOf(address(portfolio)) + _oracleValue(i, sells[i]) * 9 / 10);
        if (sells[i] + buys[j] == 0) return;
        uint256 before = value();
        uint256 q0 = quote.balanceOf(address(portfolio));
        uint256 t0 = assets[j].balanceOf(address(portfolio));
        uint256 fair = _oracleValue(i, sells[i]);
        vm.prank(keeper);
        try portfolio.executePlan(sells, buys) {
            uint256 gotQuote = quote.balanceOf(address(portfolio)) + buys[j] - q0;
            if (gotQuote + 1 < fair * (10_000 - slippageBps) / 10_000) _fail("a sell returned less than the oracle bound");
            uint256 gotValue = _oracleValue(j, assets[j].balanceOf(address(portfolio)) - t0);
            // tokens come in whole raw units, and the contract floors its oracle minimum twice
            // (tokens for the value, then less the bound): up to two raw units short
            if (gotValue + 2 * _oracleValue(j, 1) + 1 < buys[j] * (10_000 - slippageBps) / 10_000) {
                _fail("a buy returned less than the oracle bound");
            }
            _record(before);
        } catch {}
    }

    function keeperRebalance(bool force) external {
        uint256 before = value();
        vm.prank(keeper);
        try portfolio.rebalance(force) {
            _record(before);
        } catch {}
    }

    /* eve */

    /// @notice The sandwich: eve pushes the pool against the keeper's next swap, the keeper
    /// key trades as much as it likes into it, eve trades back. Only the oracle bound per swap
    /// and the loss budget per window limit what the fund loses.
    function sandwich(uint256 seed, uint256 push, uint256 sellAmount, uint256 buyAmount, bool hitSell) external {
        uint256 i = seed % assets.length;
        bool keeperSells = hitSell;
        // front-run the plan's sell of asset i (push i down) or its buy of the other asset
        uint256 k = hitSell ? i : (i + 1) % assets.length;
        _eveSwap(k, keeperSells, push);
        this.keeperPlan(seed, sellAmount, buyAmount);
        i = k;
        // back-run: eve trades back what the front-run gave her
        (TestStablecoin back, TestStablecoin to) = keeperSells ? (quote, assets[i]) : (assets[i], quote);
        uint256 bal = back.balanceOf(eve);
        if (bal != 0) _swap(back, to, bal);
    }

    /// @notice eve trades on a pool: up to 60,000 quote's worth (about 3% of its depth) either
    /// way, the size of a push that still lets the keeper's swap through its oracle bound.
    function eveSwap(uint256 seed, bool sellAsset, uint256 amount) external {
        _eveSwap(seed % assets.length, sellAsset, amount);
    }

    function _eveSwap(uint256 i, bool sellAsset, uint256 amount) internal {
        TestStablecoin tin = sellAsset ? assets[i] : quote;
        TestStablecoin tout = sellAsset ? quote : assets[i];
        uint256 max = sellAsset ? 10 ** assets[i].decimals() * 60_000 * 10 ** quote.decimals() / _oracleValue(i, 10 ** assets[i].decimals()) : 60_000 * 10 ** quote.decimals();
        amount = bound(amount, 1, max);
        tin.mint(eve, amount);
        _swap(tin, tout, amount);
    }

    function _swap(TestStablecoin tin, TestStablecoin tout, uint256 amount) internal {
        vm.startPrank(eve);
        tin.approve(router, amount);
        try IUniswapV3SwapRouter(router).exactInputSingle(
            IUniswapV3SwapRouter.ExactInputSingleParams(address(tin), address(tout), 3000, eve, block.timestamp, amount, 0, 0)
        ) returns (uint256) {} catch {}
        vm.stopPrank();
    }

    /// @notice eve tries every keeper and admin path; each must revert.
    function evePrivileged(uint256 which, uint256 amount) external {
        uint256[] memory sells = new uint256[](assets.length);
        uint256[] memory buys = new uint256[](assets.length);
        buys[0] = bound(amount, 1, 1_000 * 10 ** quote.decimals());
        vm.startPrank(eve);
        bool ok;
        which = which % 5;
        if (which == 0) (ok,) = address(portfolio).call(abi.encodeCall(portfolio.executePlan, (sells, buys)));
        else if (which == 1) (ok,) = address(portfolio).call(abi.encodeCall(portfolio.rebalance, (true)));
        else if (which == 2) (ok,) = address(portfolio).call(abi.encodeCall(portfolio.withdraw, (address(quote), eve, 1)));
        else if (which == 3) {
            (ok,) = address(portfolio).call(
                abi.encodeCall(portfolio.setBudgets, (IPortfolioRebalancer.Budgets(type(uint112).max, type(uint112).max, 1)))
            );
        } else {
            (ok,) = address(portfolio).call(
                abi.encodeCall(portfolio.setParams, (IPortfolioRebalancer.Params(type(uint32).max, 10_000, 10_000, 0, 0)))
            );
        }
        vm.stopPrank();
        if (ok) _fail("eve ran a keeper or admin function of the portfolio");
    }

    /* market and time */

    function marketMove(uint256 seed, uint256 bps) external {
        uint256 i = seed % feeds.length;
        bps = bound(bps, 9_500, 10_500);
        feeds[i].updateAnswer(int256(basePrice[i] * bps / 10_000));
    }

    function passTime(uint256 secs) external {
        _passTime(secs, 60, 2 days);
        for (uint256 i; i < feeds.length; ++i) {
            (, int256 answer,,,) = feeds[i].latestRoundData();
            feeds[i].updateAnswer(answer);
        }
    }
}
