"""Portfolio rebalancing planners (pure, no I/O): seed 004's algorithm and an exact planner.

A portfolio is N ERC-20 assets plus the quote asset (USDT) they all trade against, each with a
target weight in bps (assets + quote = 10,000). Values are in quote base units at oracle prices
(Chainlink-style answers with their own decimals), computed exactly as PortfolioRebalancer.sol
does, so a figure here and one read from the contract agree to the unit.

- `simulate_seed` is seed 004's algorithm as a reference: sell each over-weighted asset down to
  its target at oracle prices, re-read the weights, split the available quote over the assets
  still under-weighted in proportion to their deficit (skip the others, skip dust buys, nothing
  to do when the total deficit is zero, never an asset it just sold), buy. `budget="text"` is
  the seed's text to the letter (all of what the sells brought in, split by deficit, even past
  the deficits); `"collected"` the same capped at the total deficit; `"excess"` (the contract's
  on-chain `rebalance`) spends the quote held above the quote's own target.
- `plan_exact` sizes every trade with the market's real execution (fees and price impact, e.g.
  exact Uniswap V3 math from `univ3`) so that one rebalance lands on the targets: it searches the
  final portfolio value V' at which selling each over-weighted asset down to t_i * V' and buying
  each under-weighted asset up to t_i * V' leaves the quote at exactly t_q * V'.

A `Market` says what a trade returns; `FixedSlippageMarket` is the seed's model (a flat % lost on
each trade) and `V3Market` swaps through exact Uniswap V3 pools. Each asset trades on its own
pool and at most once per rebalance, so a market's quotes do not depend on trade order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal, Protocol

from keepers.core import univ3
from keepers.core.errors import DomainError

BPS = 10_000
WAD = 10**18
# How seed 004's buys are funded (see `seed_buys`): the quote above its target, what the sells
# collected (capped at the deficits), or the seed's text to the letter (collected, uncapped).
Budget = Literal["excess", "collected", "text"]


class PortfolioError(DomainError, ValueError):
    """Invalid portfolio description."""


class WeightsSumInvalid(PortfolioError):
    def __init__(self, total_bps: int) -> None:
        super().__init__(f"target weights sum to {total_bps} bps, not {BPS}")
        self.total_bps = total_bps


@dataclass(frozen=True)
class AssetSpec:
    """One non-quote asset: token decimals and its oracle answer (quote per token)."""

    symbol: str
    decimals: int
    price: int  # oracle answer, `price_decimals` decimals, quote per whole token
    price_decimals: int = 8


@dataclass(frozen=True)
class Portfolio:
    assets: tuple[AssetSpec, ...]
    balances: tuple[int, ...]  # token base units, same order as assets
    targets_bps: tuple[int, ...]
    quote_decimals: int
    quote_balance: int
    quote_target_bps: int = 0

    def __post_init__(self) -> None:
        n = len(self.assets)
        if len(self.balances) != n or len(self.targets_bps) != n:
            raise PortfolioError(
                f"assets ({n}), balances ({len(self.balances)}) and targets_bps "
                f"({len(self.targets_bps)}) must have the same length"
            )
        total = sum(self.targets_bps) + self.quote_target_bps
        if total != BPS:
            raise WeightsSumInvalid(total)
        for a, b in zip(self.assets, self.balances, strict=True):
            if b < 0 or a.price <= 0:
                raise PortfolioError(
                    f"{a.symbol}: balance {b} and price {a.price} must be >= 0/> 0"
                )

    # -- valuation, exactly as the contract does it
    def value_of(self, i: int, amount: int) -> int:
        a = self.assets[i]
        return amount * a.price * 10**self.quote_decimals // 10 ** (a.decimals + a.price_decimals)

    def tokens_for_value(self, i: int, value: int) -> int:
        a = self.assets[i]
        return value * 10 ** (a.decimals + a.price_decimals) // (a.price * 10**self.quote_decimals)

    def values(self) -> list[int]:
        return [self.value_of(i, b) for i, b in enumerate(self.balances)]

    def total_value(self) -> int:
        return sum(self.values()) + self.quote_balance

    def deviation_wad(self) -> int:
        """Total absolute weight deviation (assets and quote), 1e18 = 100%, as the contract."""
        total = self.total_value()
        if total == 0:
            return 0
        dev = 0
        for v, t in zip(self.values(), self.targets_bps, strict=True):
            dev += abs(v * WAD // total - t * WAD // BPS)
        dev += abs(self.quote_balance * WAD // total - self.quote_target_bps * WAD // BPS)
        return dev

    def deviation(self) -> Decimal:
        """Total absolute deviation as a fraction (0.01 = 1%)."""
        return Decimal(self.deviation_wad()) / WAD

    def weights_bps(self) -> list[Decimal]:
        total = Decimal(self.total_value())
        return [Decimal(v) * BPS / total for v in self.values()]


class Market(Protocol):
    def sell(self, i: int, amount_in: int) -> int:
        """Quote received for selling `amount_in` of asset i."""
        ...

    def buy(self, i: int, quote_in: int) -> int:
        """Asset i received for `quote_in` of quote."""
        ...

    def quote_for(self, i: int, amount_out: int) -> int:
        """Smallest quote input that buys at least `amount_out` of asset i."""
        ...


@dataclass(frozen=True)
class FixedSlippageMarket:
    """The seed's model: a sell returns value * (1 - s), a buy returns quote / price / (1 + s)."""

    portfolio: Portfolio
    sell_slippage_bps: tuple[int, ...]
    buy_slippage_bps: tuple[int, ...]

    def sell(self, i: int, amount_in: int) -> int:
        return self.portfolio.value_of(i, amount_in) * (BPS - self.sell_slippage_bps[i]) // BPS

    def buy(self, i: int, quote_in: int) -> int:
        p = self.portfolio
        a = p.assets[i]
        num = quote_in * 10 ** (a.decimals + a.price_decimals) * BPS
        return num // (a.price * 10**p.quote_decimals * (BPS + self.buy_slippage_bps[i]))

    def quote_for(self, i: int, amount_out: int) -> int:
        lo, hi = 0, 1
        while self.buy(i, hi) < amount_out:
            hi *= 2
        while lo < hi:  # smallest quote_in with buy(quote_in) >= amount_out
            mid = (lo + hi) // 2
            if self.buy(i, mid) >= amount_out:
                hi = mid
            else:
                lo = mid + 1
        return lo


@dataclass(frozen=True)
class V3Pool:
    """An asset/quote Uniswap V3 pool and which side the asset is on."""

    state: univ3.PoolState
    asset_is_token0: bool


@dataclass(frozen=True)
class V3Market:
    """Exact Uniswap V3 execution (SwapRouter.exactInputSingle), one pool per asset."""

    pools: tuple[V3Pool, ...]

    def sell(self, i: int, amount_in: int) -> int:
        p = self.pools[i]
        return univ3.quote_exact_input(p.state, p.asset_is_token0, amount_in)[0]

    def buy(self, i: int, quote_in: int) -> int:
        p = self.pools[i]
        return univ3.quote_exact_input(p.state, not p.asset_is_token0, quote_in)[0]

    def quote_for(self, i: int, amount_out: int) -> int:
        p = self.pools[i]
        need = univ3.quote_exact_output(p.state, not p.asset_is_token0, amount_out)[0]
        # exact output and exact input round differently: step up until the input buys enough
        while self.buy(i, need) < amount_out:
            need += 1
        return need

    def after(self, plan: Plan) -> V3Market:
        """The pools once `plan` has traded through them (sells, then buys)."""
        pools = list(self.pools)
        for i, (x, c) in enumerate(zip(plan.sells, plan.buys, strict=True)):
            for amount, asset_in in ((x, True), (c, False)):
                if amount:
                    p = pools[i]
                    zero_for_one = p.asset_is_token0 == asset_in
                    state = univ3.quote_exact_input(p.state, zero_for_one, amount)[1]
                    pools[i] = replace(p, state=state)
        return V3Market(tuple(pools))


@dataclass(frozen=True)
class Plan:
    """Explicit trades for PortfolioRebalancer.executePlan: tokens to sell, quote to spend."""

    sells: tuple[int, ...]
    buys: tuple[int, ...]


@dataclass(frozen=True)
class Outcome:
    plan: Plan
    before: Portfolio
    after: Portfolio

    @property
    def value_lost(self) -> int:
        return self.before.total_value() - self.after.total_value()

    @property
    def value_lost_bps(self) -> Decimal:
        return Decimal(self.value_lost) * BPS / Decimal(self.before.total_value())

    @property
    def residual(self) -> Decimal:
        return self.after.deviation()


def execute(portfolio: Portfolio, market: Market, plan: Plan) -> Outcome:
    """Sells first, then buys (as the contract), each on the market's fresh pool."""
    balances = list(portfolio.balances)
    quote = portfolio.quote_balance
    for i, x in enumerate(plan.sells):
        if x:
            quote += market.sell(i, x)
            balances[i] -= x
    for i, c in enumerate(plan.buys):
        if c:
            if c > quote:
                raise PortfolioError(f"buy {i}: {c} quote needed, {quote} held")
            quote -= c
            balances[i] += market.buy(i, c)
    after = replace(portfolio, balances=tuple(balances), quote_balance=quote)
    return Outcome(plan, portfolio, after)


# ---------------------------------------------------------------- seed 004's algorithm


def seed_sells(portfolio: Portfolio) -> tuple[int, ...]:
    """Phase 1 sizing: each over-weighted asset sold down to its target value at oracle prices."""
    total = portfolio.total_value()
    sells = []
    for i, v in enumerate(portfolio.values()):
        target = total * portfolio.targets_bps[i] // BPS
        sells.append(portfolio.tokens_for_value(i, v - target) if v > target else 0)
    return tuple(sells)


def seed_buys(
    after_sells: Portfolio,
    collected: int,
    budget: Budget = "excess",
    min_buy: int = 0,
    sold: tuple[int, ...] | None = None,
) -> tuple[int, ...]:
    """Phases 2-4: re-read weights, split the budget over the deficits, skip dust.

    Deficits are in value (proportional to the seed's bps deficits, same denominator). Assets
    with a sell in `sold` are skipped (the seed's "amounts[i] > 0 -> skip (already sold)"): a
    sale above the oracle value leaves the asset short of its new target, and buying it back
    only pays the pool twice. With "excess" and "collected" a budget larger than the total
    deficit buys each deficit in full rather than overshooting; "text" is the seed's text to
    the letter: all the quote the sells collected, split by deficit, uncapped.
    """
    total = after_sells.total_value()
    values = after_sells.values()
    skip = sold or (0,) * len(values)
    deficits = [
        0 if x else max(0, total * t // BPS - v)
        for v, t, x in zip(values, after_sells.targets_bps, skip, strict=True)
    ]
    total_deficit = sum(deficits)
    if budget == "excess":
        available = max(0, after_sells.quote_balance - total * after_sells.quote_target_bps // BPS)
    else:
        available = max(0, min(collected, after_sells.quote_balance))
    if total_deficit == 0 or available == 0:
        return tuple(0 for _ in deficits)
    spend = available if budget == "text" else min(available, total_deficit)
    buys = []
    for d in deficits:
        amount = d * spend // total_deficit
        buys.append(amount if amount >= max(min_buy, 1) else 0)
    return tuple(buys)


def simulate_seed(
    portfolio: Portfolio,
    market: Market,
    budget: Budget = "excess",
    min_buy: int = 0,
    buy_back: bool = False,
) -> Outcome:
    """Seed 004's two-phase rebalance, executed on `market` (buys sized after the sells).

    `buy_back=True` reproduces the implementation before issue 14, which also bought back an
    asset it had just sold when the sale returned more than the oracle value.
    """
    sells = seed_sells(portfolio)
    after_sells = execute(portfolio, market, Plan(sells, tuple(0 for _ in sells))).after
    collected = after_sells.quote_balance - portfolio.quote_balance
    buys = seed_buys(after_sells, collected, budget, min_buy, None if buy_back else sells)
    return execute(portfolio, market, Plan(sells, buys))


# ---------------------------------------------------------------- exact planner


def _final_targets(portfolio: Portfolio, final_value: int, slack: tuple[int, ...]) -> list[int]:
    """Token amount each asset should end with: t_i * V' moved back toward the current
    holding by slack_i (quote units, never past the holding)."""
    out = []
    for i, h in enumerate(portfolio.balances):
        goal = final_value * portfolio.targets_bps[i] // BPS
        held = portfolio.value_of(i, h)
        if held > goal:
            goal = min(held, goal + slack[i])
        elif held < goal:
            goal = max(held, goal - slack[i])
        out.append(h if goal == held else portfolio.tokens_for_value(i, goal))
    return out


def _trades_for(
    portfolio: Portfolio,
    market: Market,
    final_value: int,
    min_trade_value: int,
    slack: tuple[int, ...],
) -> tuple[list[int], list[int], int, int]:
    """Trades that put every asset at its final target.

    Returns sells, buys, the quote left and the oracle value of everything held after.
    """
    sells, buys = [], []
    quote = portfolio.quote_balance
    held_value = 0
    for i, (h, target) in enumerate(
        zip(portfolio.balances, _final_targets(portfolio, final_value, slack), strict=True)
    ):
        x = c = 0
        end = h
        if h > target and portfolio.value_of(i, h - target) >= min_trade_value:
            x = h - target
            quote += market.sell(i, x)
            end = target
        elif h < target and portfolio.value_of(i, target - h) >= min_trade_value:
            c = market.quote_for(i, target - h)
            quote -= c
            end = h + market.buy(i, c)
        sells.append(x)
        buys.append(c)
        held_value += portfolio.value_of(i, end)
    return sells, buys, quote, held_value + quote


SLACK_CHUNKS = 16


def _marginal_cost(
    portfolio: Portfolio, market: Market, i: int, is_sell: bool, size: int, chunk: int
) -> Decimal:
    """Cost per unit of the last `chunk` (quote units) of a trade of `size` (quote units)."""
    lo = max(0, size - chunk)
    if is_sell:
        x_hi, x_lo = portfolio.tokens_for_value(i, size), portfolio.tokens_for_value(i, lo)
        if x_hi == 0:
            return Decimal(0)
        paid = portfolio.value_of(i, x_hi) - portfolio.value_of(i, x_lo)
        got = market.sell(i, x_hi) - (market.sell(i, x_lo) if x_lo else 0)
    else:
        paid = size - lo
        got = portfolio.value_of(i, market.buy(i, size) - (market.buy(i, lo) if lo else 0))
    return Decimal(paid - got) / paid if paid > 0 else Decimal(0)


def _allocate_slack(
    portfolio: Portfolio, market: Market, min_trade_value: int, residual_wad: int
) -> tuple[int, ...]:
    """Where to leave an allowed residual deviation: on the dearest last units of the trades.

    Every quote unit not sold on the sell side leaves one unit not bought on the buy side, and
    together they add 2 units of absolute deviation (the quote absorbs any imbalance, so the
    total is 2 x max(sell slack, buy slack)); so a residual of `residual_wad` of the value buys
    half of it in slack per side, and slack on both sides saves the most. Each side's slack is handed out in SLACK_CHUNKS chunks, each
    to the trade whose last remaining chunk costs the most per unit (fee plus marginal price
    impact): water-filling, so a deep cheap pool keeps its full trade.
    """
    n = len(portfolio.balances)
    if residual_wad <= 0:
        return tuple(0 for _ in range(n))
    total = portfolio.total_value()
    sells, buys, _, _ = _trades_for(portfolio, market, total, min_trade_value, (0,) * n)
    chunk = total * residual_wad // WAD // 2 // SLACK_CHUNKS
    slack = [0] * n
    if chunk == 0:
        return tuple(slack)
    for is_sell in (True, False):
        sizes = {
            i: portfolio.value_of(i, sells[i]) if is_sell else buys[i]
            for i in range(n)
            if (sells[i] if is_sell else buys[i])
        }
        cost = {
            i: _marginal_cost(portfolio, market, i, is_sell, sz, chunk) for i, sz in sizes.items()
        }
        for _ in range(SLACK_CHUNKS):
            open_ = [i for i in sizes if sizes[i] - slack[i] > 0]
            if not open_:
                break
            i = max(open_, key=lambda k: cost[k])
            slack[i] += min(chunk, sizes[i] - slack[i])
            left = sizes[i] - slack[i]
            cost[i] = (
                _marginal_cost(portfolio, market, i, is_sell, left, chunk) if left else Decimal(0)
            )
    return tuple(slack)


def _plan_with_slack(
    portfolio: Portfolio,
    market: Market,
    min_trade_value: int,
    residual_wad: int,
    max_iterations: int,
) -> Plan:
    slack = _allocate_slack(portfolio, market, min_trade_value, residual_wad)
    v_guess = portfolio.total_value()
    for _ in range(max_iterations):
        _, _, _, v_new = _trades_for(portfolio, market, v_guess, min_trade_value, slack)
        if abs(v_new - v_guess) <= 1:
            v_guess = min(v_guess, v_new)
            break
        v_guess = v_new
    sells, buys, quote_left, _ = _trades_for(portfolio, market, v_guess, min_trade_value, slack)
    if quote_left < 0 and any(buys):
        j = max(range(len(buys)), key=lambda k: buys[k])
        buys[j] = max(0, buys[j] + quote_left)
    return Plan(tuple(sells), tuple(buys))


RESIDUAL_RETRIES = 8


def plan_exact(
    portfolio: Portfolio,
    market: Market,
    min_trade_value: int = 0,
    residual_budget_bps: int | Decimal = 0,
    max_iterations: int = 64,
) -> Plan:
    """Trades sized with the market's real execution so one rebalance lands on target.

    Fixed-point search on the final value V': V'_{k+1} = oracle value of the portfolio that
    trading to t_i * V'_k leaves. Each step's error shrinks by about the fee/impact rate (a
    contraction), so a handful of iterations reach the unit. At the fixed point the quote left
    is exactly t_q * V'.

    `residual_budget_bps` > 0 is a residual target: the cheapest plan found whose total
    absolute deviation after execution is at most that much. The deviation is left on the
    trades whose last units cost the most per unit (fee plus price impact, exact pool math;
    see _allocate_slack), so value lost drops while the residual stays at the target; the plan
    is executed on `market` and, should rounding or the pools' curvature land it above the
    target, re-planned with proportionally less slack. Trades smaller than `min_trade_value`
    (quote units) are skipped as dust. The quote never goes negative: a shortfall from
    rounding is taken off the largest buy. No asset is both sold and bought.
    """
    target = int(Decimal(residual_budget_bps) * WAD / BPS)
    plan = _plan_with_slack(portfolio, market, min_trade_value, target, max_iterations)
    if target <= 0:
        return plan
    # Secant on the slack handed out until the plan lands at (not above) the target: rounding
    # and the pools' curvature move the landing a little either way. Keep the cheapest plan
    # that lands at or under the target; landing on the exact plan is always possible.
    best: tuple[int, Plan] | None = None
    aim = target
    for _ in range(RESIDUAL_RETRIES):
        out = execute(portfolio, market, plan)
        landed = out.after.deviation_wad()
        if landed <= target and (best is None or out.value_lost < best[0]):
            best = (out.value_lost, plan)
        if landed == 0 or target - target // 200 <= landed <= target:
            break  # within 0.5% of the target (relative): no cheaper plan worth the search
        aim = aim * target // landed * (999 if landed > target else 1000) // 1000
        plan = _plan_with_slack(portfolio, market, min_trade_value, aim, max_iterations)
    if best is None:
        return _plan_with_slack(portfolio, market, min_trade_value, 0, max_iterations)
    return best[1]


def simulate_exact(
    portfolio: Portfolio,
    market: Market,
    min_trade_value: int = 0,
    residual_budget_bps: int | Decimal = 0,
) -> Outcome:
    plan = plan_exact(portfolio, market, min_trade_value, residual_budget_bps)
    return execute(portfolio, market, plan)
