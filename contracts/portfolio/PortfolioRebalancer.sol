// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";

import {IRebalanceTarget} from "../interfaces/IRebalanceTarget.sol";
import {IPortfolioRebalancer} from "../interfaces/IPortfolioRebalancer.sol";
import {IUniswapV3SwapRouter} from "../interfaces/external/IUniswapV3SwapRouter.sol";
import {WindowBudgetLib} from "../libraries/WindowBudgetLib.sol";
import {BpsLib} from "../libraries/BpsLib.sol";
import {ReleaseLib} from "../libraries/ReleaseLib.sol";

/// @title PortfolioRebalancer
/// @notice Seed 004's portfolio core: N assets against a quote asset, rebalanced through
/// Uniswap V3. `rebalance` runs the seed's two-phase algorithm on-chain; `executePlan` runs a
/// keeper's exactly sized plan (keepers/planning/portfolio.py). Both end in the same checks and
/// draw on the same window budgets (value lost, notional moved), and neither buys what it sold.
contract PortfolioRebalancer is IPortfolioRebalancer, AccessControl, ReentrancyGuard {
    /// @notice The contract release this code belongs to (ASCII in a bytes32, e.g. "0.2.0"): the
    /// keepers refuse to drive contracts of a release their ABIs do not belong to.
    bytes32 public constant RELEASE = ReleaseLib.RELEASE;

    using SafeERC20 for IERC20;
    using WindowBudgetLib for WindowBudgetLib.Window;

    /* CONSTANTS */

    uint256 private constant _WAD = 1e18;
    /// @dev Slippage and value-loss caps above this are refused as configuration mistakes.
    uint256 private constant _MAX_GUARD_BPS = 5_000;

    /// @inheritdoc IPortfolioRebalancer
    bytes32 public constant REBALANCER_ROLE = keccak256("REBALANCER_ROLE");
    /// @inheritdoc IPortfolioRebalancer
    bytes32 public constant KEEPER_ROLE = keccak256("KEEPER_ROLE");
    /// @inheritdoc IPortfolioRebalancer
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");

    /* STORAGE */

    struct Asset {
        IERC20 token;
        AggregatorV3Interface feed;
        uint24 poolFee;
        uint16 targetBps;
        uint8 tokenDecimals;
        uint8 feedDecimals;
    }

    /// @dev Prices and balances read once per call; valuation never re-reads the feeds.
    struct Snapshot {
        uint256[] prices;
        uint256[] values;
        uint256 quoteBalance;
        uint256 total;
    }

    IERC20 private immutable _quote;
    uint256 private immutable _quoteUnit;
    IUniswapV3SwapRouter private immutable _router;

    Asset[] private _assets;
    /// @inheritdoc IPortfolioRebalancer
    uint16 public quoteTargetBps;
    Params private _params;
    Budgets private _budgets;
    WindowBudgetLib.Window private _lossWindow;
    WindowBudgetLib.Window private _notionalWindow;

    /* CONSTRUCTOR */

    constructor(
        address admin,
        address quote_,
        address router_,
        AssetConfig[] memory assets_,
        uint16 quoteTargetBps_,
        Params memory params_,
        Budgets memory budgets_
    ) {
        if (admin == address(0) || quote_ == address(0) || router_ == address(0)) revert ZeroAddress();
        _quote = IERC20(quote_);
        _quoteUnit = 10 ** IERC20Metadata(quote_).decimals();
        _router = IUniswapV3SwapRouter(router_);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);

        uint256 totalBps = quoteTargetBps_;
        for (uint256 i; i < assets_.length; ++i) {
            AssetConfig memory c = assets_[i];
            if (c.token == address(0) || c.feed == address(0)) revert ZeroAddress();
            if (c.token == quote_) revert DuplicateAsset(c.token);
            for (uint256 j; j < i; ++j) {
                if (assets_[j].token == c.token) revert DuplicateAsset(c.token);
            }
            _assets.push(
                Asset({
                    token: IERC20(c.token),
                    feed: AggregatorV3Interface(c.feed),
                    poolFee: c.poolFee,
                    targetBps: c.targetBps,
                    tokenDecimals: IERC20Metadata(c.token).decimals(),
                    feedDecimals: AggregatorV3Interface(c.feed).decimals()
                })
            );
            totalBps += c.targetBps;
            IERC20(c.token).forceApprove(router_, type(uint256).max);
        }
        if (totalBps != BpsLib.BPS) revert WeightsSumInvalid(totalBps);
        quoteTargetBps = quoteTargetBps_;
        IERC20(quote_).forceApprove(router_, type(uint256).max);
        _setParams(params_);
        _setBudgets(budgets_);
    }

    /* REBALANCE */

    /// @inheritdoc IRebalanceTarget
    /// @dev Seed 004's algorithm, built properly: sell every over-weighted asset down to its
    /// target at oracle prices; re-read the weights; split the quote held above the quote's own
    /// target over the assets still under-weighted in proportion to their deficit (capped at the
    /// total deficit, dust skipped, nothing when no deficit is left, never an asset just sold);
    /// buy.
    function rebalance(bool force) external override onlyRole(REBALANCER_ROLE) nonReentrant returns (bool moved) {
        Snapshot memory s = _snapshot();
        uint256 devBefore = _deviation(s);
        if (devBefore == 0) return false;
        if (!force && devBefore < uint256(_params.driftThresholdBps) * (_WAD / BpsLib.BPS)) return false;

        (uint256 notional, bool[] memory sold, bool anySold) = _sellOverweights(s);
        uint256 spent = _buyDeficits(s.prices, sold);
        moved = anySold || spent > 0;
        notional += spent;
        if (moved) _checkAndEmit(s, devBefore, notional, false);
    }

    /// @inheritdoc IPortfolioRebalancer
    function executePlan(uint256[] calldata sells, uint256[] calldata buys)
        external
        onlyRole(KEEPER_ROLE)
        nonReentrant
        returns (uint256 valueAfter, uint256 deviationAfterWad)
    {
        uint256 n = _assets.length;
        if (sells.length != n) revert LengthMismatch(n, sells.length);
        if (buys.length != n) revert LengthMismatch(n, buys.length);
        Snapshot memory s = _snapshot();
        uint256 devBefore = _deviation(s);
        uint256 notional;
        for (uint256 i; i < n; ++i) {
            if (sells[i] == 0) continue;
            if (buys[i] != 0) revert SoldAssetBought(address(_assets[i].token));
            uint256 balance = _assets[i].token.balanceOf(address(this));
            if (sells[i] > balance) revert SellExceedsBalance(address(_assets[i].token), sells[i], balance);
            _sell(i, sells[i], s.prices[i]);
            notional += _valueOf(i, sells[i], s.prices[i]);
        }
        for (uint256 i; i < n; ++i) {
            if (buys[i] == 0) continue;
            uint256 balance = _quote.balanceOf(address(this));
            if (buys[i] > balance) revert BuyExceedsQuote(address(_assets[i].token), buys[i], balance);
            _buy(i, buys[i], s.prices[i]);
            notional += buys[i];
        }
        return _checkAndEmit(s, devBefore, notional, true);
    }

    /* ADMIN */

    /// @inheritdoc IPortfolioRebalancer
    function setTargets(uint16[] calldata targetsBps, uint16 quoteTargetBps_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        uint256 n = _assets.length;
        if (targetsBps.length != n) revert LengthMismatch(n, targetsBps.length);
        uint256 totalBps = quoteTargetBps_;
        for (uint256 i; i < n; ++i) {
            totalBps += targetsBps[i];
        }
        if (totalBps != BpsLib.BPS) revert WeightsSumInvalid(totalBps);
        for (uint256 i; i < n; ++i) {
            _assets[i].targetBps = targetsBps[i];
        }
        quoteTargetBps = quoteTargetBps_;
        emit TargetsUpdated(targetsBps, quoteTargetBps_);
    }

    /// @inheritdoc IPortfolioRebalancer
    function setParams(Params calldata params_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setParams(params_);
    }

    /// @inheritdoc IPortfolioRebalancer
    function setBudgets(Budgets calldata budgets_) external {
        if (!hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) {
            _checkRole(GUARDIAN_ROLE);
            Budgets memory old = _budgets;
            if (
                budgets_.lossPerWindow > old.lossPerWindow || budgets_.notionalPerWindow > old.notionalPerWindow
                    || budgets_.period < old.period
            ) revert BudgetRaiseNeedsAdmin(msg.sender);
        }
        _setBudgets(budgets_);
    }

    /// @inheritdoc IPortfolioRebalancer
    function withdraw(address token, address to, uint256 amount) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (to == address(0)) revert ZeroAddress();
        IERC20(token).safeTransfer(to, amount);
        emit Withdrawn(token, to, amount);
    }

    /* VIEWS */

    /// @inheritdoc IPortfolioRebalancer
    function quote() external view returns (address) {
        return address(_quote);
    }

    /// @inheritdoc IPortfolioRebalancer
    function router() external view returns (address) {
        return address(_router);
    }

    /// @inheritdoc IPortfolioRebalancer
    function params() external view returns (Params memory) {
        return _params;
    }

    /// @inheritdoc IPortfolioRebalancer
    function budgets() external view returns (Budgets memory) {
        return _budgets;
    }

    /// @inheritdoc IPortfolioRebalancer
    function budgetUsed() external view returns (uint256 lossUsed, uint256 notionalUsed) {
        uint256 period = _budgets.period;
        return (_lossWindow.usedNow(period), _notionalWindow.usedNow(period));
    }

    /// @inheritdoc IPortfolioRebalancer
    function assetCount() external view returns (uint256) {
        return _assets.length;
    }

    /// @inheritdoc IPortfolioRebalancer
    function assetAt(uint256 index) external view returns (AssetConfig memory) {
        Asset storage a = _assets[index];
        return AssetConfig(address(a.token), address(a.feed), a.poolFee, a.targetBps);
    }

    /// @inheritdoc IPortfolioRebalancer
    function portfolioState()
        external
        view
        returns (uint256[] memory values, uint256 quoteValue, uint256 total, uint256 deviationWad)
    {
        Snapshot memory s = _snapshot();
        return (s.values, s.quoteBalance, s.total, _deviation(s));
    }

    /* INTERNAL: SEED ALGORITHM */

    /// @dev Phase 1: sells each over-weighted asset down to its target value at oracle prices.
    /// Returns the oracle value sold and which assets were sold.
    function _sellOverweights(Snapshot memory s)
        internal
        returns (uint256 notional, bool[] memory sold, bool anySold)
    {
        uint256 n = _assets.length;
        sold = new bool[](n);
        for (uint256 i; i < n; ++i) {
            uint256 targetValue = Math.mulDiv(s.total, _assets[i].targetBps, BpsLib.BPS);
            if (s.values[i] > targetValue) {
                uint256 amount = _tokensForValue(i, s.values[i] - targetValue, s.prices[i]);
                if (amount > 0) {
                    _sell(i, amount, s.prices[i]);
                    notional += _valueOf(i, amount, s.prices[i]);
                    sold[i] = true;
                    anySold = true;
                }
            }
        }
    }

    /// @dev Phases 2-4: re-reads, splits the quote held above its target over the deficits of
    /// the assets not sold in phase 1 (a sale above the oracle value leaves the sold asset short
    /// of its new target; buying it back would only pay the pool twice), buys. Returns the
    /// quote spent.
    function _buyDeficits(uint256[] memory prices, bool[] memory sold) internal returns (uint256 spent) {
        Snapshot memory mid = _revalue(prices);
        (uint256[] memory deficits, uint256 totalDeficit) = _deficits(mid, sold);
        uint256 quoteTarget = Math.mulDiv(mid.total, quoteTargetBps, BpsLib.BPS);
        uint256 available = mid.quoteBalance > quoteTarget ? mid.quoteBalance - quoteTarget : 0;
        if (totalDeficit == 0 || available == 0) return 0;
        uint256 spend = Math.min(available, totalDeficit);
        uint256 minBuy = Math.max(_params.minBuyQuote, 1);
        for (uint256 i; i < deficits.length; ++i) {
            uint256 amount = Math.mulDiv(deficits[i], spend, totalDeficit);
            if (amount >= minBuy) {
                _buy(i, amount, prices[i]);
                spent += amount;
            }
        }
    }

    /* INTERNAL: SWAPS */

    /// @dev Sells `amount` of asset i for quote; minimum out = oracle value minus max slippage.
    function _sell(uint256 i, uint256 amount, uint256 price) internal {
        Asset storage a = _assets[i];
        uint256 minOut = Math.mulDiv(_valueOf(i, amount, price), BpsLib.BPS - _params.maxSlippageBps, BpsLib.BPS);
        uint256 out = _router.exactInputSingle(
            IUniswapV3SwapRouter.ExactInputSingleParams({
                tokenIn: address(a.token),
                tokenOut: address(_quote),
                fee: a.poolFee,
                recipient: address(this),
                deadline: block.timestamp,
                amountIn: amount,
                amountOutMinimum: minOut,
                sqrtPriceLimitX96: 0
            })
        );
        emit Swapped(address(a.token), address(_quote), amount, out);
    }

    /// @dev Spends `quoteIn` on asset i; minimum out = oracle amount minus max slippage.
    function _buy(uint256 i, uint256 quoteIn, uint256 price) internal {
        Asset storage a = _assets[i];
        uint256 minOut = Math.mulDiv(_tokensForValue(i, quoteIn, price), BpsLib.BPS - _params.maxSlippageBps, BpsLib.BPS);
        uint256 out = _router.exactInputSingle(
            IUniswapV3SwapRouter.ExactInputSingleParams({
                tokenIn: address(_quote),
                tokenOut: address(a.token),
                fee: a.poolFee,
                recipient: address(this),
                deadline: block.timestamp,
                amountIn: quoteIn,
                amountOutMinimum: minOut,
                sqrtPriceLimitX96: 0
            })
        );
        emit Swapped(address(_quote), address(a.token), quoteIn, out);
    }

    /* INTERNAL: CHECKS */

    /// @dev Revalues at the prices read before trading (so slippage shows as lost value),
    /// enforces the two post-conditions and charges the value lost and `notional` to the
    /// window budgets (a gain is not credited back).
    function _checkAndEmit(Snapshot memory before, uint256 devBefore, uint256 notional, bool planned)
        internal
        returns (uint256 valueAfter, uint256 devAfter)
    {
        Snapshot memory post = _revalue(before.prices);
        valueAfter = post.total;
        devAfter = _deviation(post);
        if (devAfter >= devBefore) revert DeviationNotImproved(devBefore, devAfter);
        uint256 lost = valueAfter < before.total ? before.total - valueAfter : 0;
        uint256 maxLost = Math.mulDiv(before.total, _params.maxTotalValueLossBps, BpsLib.BPS);
        if (lost > maxLost) revert ValueLossExceeded(lost, maxLost);
        Budgets memory b = _budgets;
        _lossWindow.consume(lost, b.lossPerWindow, b.period);
        _notionalWindow.consume(notional, b.notionalPerWindow, b.period);
        emit Rebalanced(msg.sender, planned, before.total, valueAfter, devBefore, devAfter);
    }

    /// @dev Sum over assets and quote of |weight - target|, 1e18 = 100%.
    function _deviation(Snapshot memory s) internal view returns (uint256 dev) {
        if (s.total == 0) return 0;
        uint256 n = _assets.length;
        for (uint256 i; i < n; ++i) {
            dev += _absDiff(Math.mulDiv(s.values[i], _WAD, s.total), uint256(_assets[i].targetBps) * (_WAD / BpsLib.BPS));
        }
        dev += _absDiff(Math.mulDiv(s.quoteBalance, _WAD, s.total), uint256(quoteTargetBps) * (_WAD / BpsLib.BPS));
    }

    /// @dev Value each asset still needs to reach its target (0 when at or above it, or sold).
    function _deficits(Snapshot memory s, bool[] memory sold)
        internal
        view
        returns (uint256[] memory deficits, uint256 total)
    {
        uint256 n = _assets.length;
        deficits = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            if (sold[i]) continue;
            uint256 targetValue = Math.mulDiv(s.total, _assets[i].targetBps, BpsLib.BPS);
            if (targetValue > s.values[i]) {
                deficits[i] = targetValue - s.values[i];
                total += deficits[i];
            }
        }
    }

    function _absDiff(uint256 a, uint256 b) internal pure returns (uint256) {
        return a > b ? a - b : b - a;
    }

    function _setParams(Params memory p) internal {
        if (p.maxSlippageBps > _MAX_GUARD_BPS) revert ParamOutOfRange(p.maxSlippageBps, _MAX_GUARD_BPS);
        if (p.maxTotalValueLossBps > _MAX_GUARD_BPS) revert ParamOutOfRange(p.maxTotalValueLossBps, _MAX_GUARD_BPS);
        if (p.driftThresholdBps > BpsLib.BPS) revert ParamOutOfRange(p.driftThresholdBps, BpsLib.BPS);
        _params = p;
        emit ParamsUpdated(p);
    }

    function _setBudgets(Budgets memory b) internal {
        if (b.period == 0) revert ParamOutOfRange(0, type(uint32).max);
        _budgets = b;
        emit BudgetsUpdated(b);
    }

    /* INTERNAL: VALUATION */

    /// @dev Fresh oracle prices, balances and values.
    function _snapshot() internal view returns (Snapshot memory) {
        uint256 n = _assets.length;
        uint256[] memory prices = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            prices[i] = _price(_assets[i].feed);
        }
        return _revalue(prices);
    }

    /// @dev Current balances valued at `prices`.
    function _revalue(uint256[] memory prices) internal view returns (Snapshot memory s) {
        uint256 n = _assets.length;
        s.prices = prices;
        s.values = new uint256[](n);
        s.quoteBalance = _quote.balanceOf(address(this));
        s.total = s.quoteBalance;
        for (uint256 i; i < n; ++i) {
            s.values[i] = _valueOf(i, _assets[i].token.balanceOf(address(this)), prices[i]);
            s.total += s.values[i];
        }
    }

    /// @dev Chainlink answer, refused when non-positive or older than maxStaleness.
    function _price(AggregatorV3Interface feed) internal view returns (uint256) {
        (, int256 answer,, uint256 updatedAt,) = feed.latestRoundData();
        if (answer <= 0) revert InvalidPrice(address(feed), answer);
        if (updatedAt + _params.maxStaleness < block.timestamp) {
            revert StalePrice(address(feed), updatedAt, _params.maxStaleness);
        }
        return uint256(answer);
    }

    /// @dev amount * price * quoteUnit / 10^(tokenDecimals + feedDecimals), rounded down.
    function _valueOf(uint256 i, uint256 amount, uint256 price) internal view returns (uint256) {
        Asset storage a = _assets[i];
        return Math.mulDiv(amount, price * _quoteUnit, 10 ** (uint256(a.tokenDecimals) + a.feedDecimals));
    }

    /// @dev The inverse of _valueOf, rounded down.
    function _tokensForValue(uint256 i, uint256 value, uint256 price) internal view returns (uint256) {
        Asset storage a = _assets[i];
        return Math.mulDiv(value, 10 ** (uint256(a.tokenDecimals) + a.feedDecimals), price * _quoteUnit);
    }
}
