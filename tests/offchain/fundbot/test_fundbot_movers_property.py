"""The property with every mover in it, on anvil with the deployed local fund: random
interleavings (seeded, shrinking) of the fund keeper's triggers and plan stages with the fund's
other movers, each example on a snapshot of the chain and a fresh store.

The moves: the keeper's liquidity and threshold checks and its tick; the owners' approvals; a
keeper killed (a fresh FundBot on the same store in its place) at any point, right after a
plan's first write (before its risk check) or with an action in flight; the recurring
rebalancer's due run executed through the scheduler as the executor keeper does (the clock
moved to it, the feeds reporting again: it fills ERC-4626 legs, never a pool leg); holders'
deposits, redemption requests, cancels and the desk's fulfilment; a feed push and a pool push;
time passing.

For every sequence:

- no exception escapes a keeper job (the kills are the only interruptions, and they are ours);
- no plan stays non-final without progress past a stated bound: ``proposed`` never survives a
  tick, ``pending_approval`` never survives a tick past its approval deadline, ``approved``
  never stays unchanged for more than ``APPROVED_TICKS`` ticks;
- nothing is sent twice: one intent per idempotency key, and the keeper's nonce moved once per
  intent that reached the chain;
- once the movers stop and the keeper's checks run (the owners signing what waits), every tier
  is in its band and L1 is near its target: inside the marks at which the liquidity check acts
  (L1_LOW_RATIO 8% .. L1_HIGH_RATIO 15%), where the keeper leaves it by design; when the
  redemption queue takes the whole fund (a request for more than the holder's shares queues
  all of them), no band applies and every position that can be sold now is sold for the queue.

An owner's approval refused as too late (DomainError: the plan's deadline passed) is the
owners' call refused, not a keeper job failing. ``make test`` runs a few examples; the ``slow``
marker runs more.

The issue's sequence (a deposit, the keeper killed after its plan's first write, another mover
investing the cash, a tick) is an explicit example: since the due run trades no pool leg, the
mover that invests the cash there is another keeper-role process's forced ``rebalance(true)``
(a second replica or an operator on its own key). On the code before
keepers/fund/lifecycle.py it crashes every tick. What the shrunk counterexamples found while the
property was built: [liquidity, liquidity, deposit 50,000] (L1 at 12.2%, inside the marks: no
trigger) showed that "L1 within 2 points of target" is not what the keeper promises; an owner's
approval after the deadline (refused, DomainError) was first counted as a keeper crash.
Issue 52's next session: [liquidity, liquidity, request 1,555,876] left L3 at 70.13% (the
planner's redemption pass, fixed); [request 2,293,315, liquidity] queued the whole fund and the
planner sold nothing for it (fixed); [liquidity, request 1,146,017, feed 2] left a pool past the
slippage limit with nothing to arbitrage it back (the harness: pools are brought back to their
feeds when the movers stop). The 60-example run then found [liquidity, liquidity, request
1,568,963]: L3 at 70.01%, the depth read leaving 1 bps of each pool position the planner sold
whole (fixed in keepers/fund/planning/depth.py). Past about 1,569,000 on this fund no plan can
keep L3 under 70%: PRIVCRED (asynchronous, nothing redeemable now) alone is over 70% of what
the queue leaves once the pools' fees are paid (the 60 derandomized examples pass).
"""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from ape.exceptions import ContractLogicError
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from keepers.core.errors import DomainError
from keepers.fund.bot import FundBot
from keepers.fund.records import APPROVED, PENDING_APPROVAL, PROPOSED
from keepers.fund.settings import load_fund_config
from keepers.runtime.alerts import Alerter
from keepers.store import models as m
from keepers.store.db import Store
from keepers.tx.signers import RawKeySigner
from tests.support.fundbotlib import (
    DEX,
    ROOT,
    UNIT,
    other_keeper_invests,
    push_pool,
    timelock_sender,
)

DAY = 86_400
APPROVED_TICKS = 3  # an approved plan moves within this many ticks on a chain that mines
SETTLE_ROUNDS = 6
ADMINS = ("alice", "bob", "carol")

_amount = st.integers(50_000, 4_000_000)
OPS = st.one_of(
    st.tuples(st.sampled_from(["liquidity", "threshold", "tick", "approve"]), st.just(0)),
    st.tuples(st.sampled_from(["kill", "kill_proposed", "kill_sending"]), st.just(0)),
    st.tuples(st.just("due_run"), st.just(0)),
    st.tuples(st.sampled_from(["deposit", "request"]), _amount),
    st.tuples(st.sampled_from(["cancel", "fulfil"]), st.just(0)),
    st.tuples(st.just("donate"), _amount),
    st.tuples(st.just("feed"), st.integers(-6, 6)),
    st.tuples(st.just("pool"), st.integers(-4, 4)),
    st.tuples(st.just("wait"), st.integers(60, 6 * 3600)),
)
SEQUENCES = st.lists(OPS, min_size=3, max_size=10)


class Killed(BaseException):
    """A SIGKILL at a chosen point of the keeper's work (not an Exception: no job catches it)."""


@dataclass
class World:
    fund: Any
    chain: Any
    accounts: Any
    deployment: Path
    db: str
    bot: FundBot = field(init=False)
    failures: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    unchanged: dict[str, tuple[Any, int]] = field(default_factory=dict)
    requests: list[int] = field(default_factory=list)
    desk: Any = None
    nonce0: int = 0

    def __post_init__(self) -> None:
        self.bot = self.make_bot()

    def make_bot(self) -> FundBot:
        env = {
            "KEEPER_RPC_URL": self.chain.provider.uri,
            "KEEPER_DB_URL": self.db,
            "KEEPER_DEPLOYMENT": str(self.deployment),
            "KEEPER_ARTIFACTS_PATH": str(ROOT / ".build/__local__.json"),
            "KEEPER_CHAIN_ID": str(self.chain.chain_id),
            "KEEPER_LOG_LEVEL": "ERROR",
            "KEEPER_RETRY_BACKOFF_S": "0.05",
            "REBALANCE_ADMINS": ",".join(ADMINS),
        }
        cfg = load_fund_config(env)
        return FundBot(cfg, Store(cfg.keeper.db_url),
                       signer=RawKeySigner(self.accounts[2].private_key), alerter=Alerter())  # fmt: skip

    def now(self) -> int:
        return int(self.chain.pending_timestamp)

    # ------------------------------------------------------------------ the keeper's jobs

    def job(self, name: str, fn: Any, refusals: tuple[type[BaseException], ...] = ()) -> Any:
        """As the runtime runs a job: an error is a failure of the property (``refusals``: an
        owner's call the keeper refuses with a clear error, not a failure)."""
        try:
            return fn()
        except Killed:
            raise
        except refusals:
            return None
        except Exception as err:  # noqa: BLE001 - what the property forbids
            self.failures.append(f"{name}: {type(err).__name__}: {err}")
            return None

    def tick(self) -> None:
        now = self.now()
        self.job("fund.tick", lambda: self.bot.tick(now))
        self.after_tick(now)

    def after_tick(self, now: int) -> None:
        for row in self.bot.plans.with_status(PROPOSED, PENDING_APPROVAL, APPROVED):
            full = self.bot.plans.get(row.ref)
            shape = (row.status, tuple((a.status, a.intent_id) for a in full.actions))
            if row.status == PROPOSED:
                self.violations.append(f"plan {row.ref} still proposed after a tick")
            deadline = (row.payload.get("approval") or {}).get("deadline")
            if row.status == PENDING_APPROVAL and deadline and now > int(deadline):
                self.violations.append(f"plan {row.ref} pending past its deadline {deadline}")
            last, n = self.unchanged.get(row.ref, (None, 0))
            n = n + 1 if last == shape else 0
            self.unchanged[row.ref] = (shape, n)
            if row.status == APPROVED and n > APPROVED_TICKS:
                self.violations.append(f"plan {row.ref} approved, unchanged for {n} ticks")

    def restart(self) -> None:
        self.bot.store.close()
        self.bot = self.make_bot()

    def approve(self) -> None:
        now = self.now()
        for row in self.bot.plans.with_status(PENDING_APPROVAL):
            for admin in ADMINS[:2]:
                ref = str(row.ref)
                out = self.job(
                    "owner.approve",
                    lambda a=admin, r=ref: self.bot.approve(r, a, now),
                    (DomainError,),  # too late: the deadline passed
                )
                if out is None or out.status != PENDING_APPROVAL:
                    break

    # ------------------------------------------------------------------ the other movers

    def run_due(self) -> None:
        sched = self.fund.automation["scheduler"]
        due_at = [int(sched.getRun(i).timestamp) for i in sched.nextDueRuns(20)]
        if not due_at:
            ids = list(sched.runsDueInRange(self.now(), self.now() + 2 * DAY, 10))
            due_at = [int(sched.getRun(i).timestamp) for i in ids]
        if due_at:
            self.chain.mine(timestamp=max(self.now(), min(due_at) + 1))
        self.feeds()
        due = list(sched.nextDueRuns(20))
        if due:
            sched.executeBatch(due, sender=self.accounts[5])

    def feeds(self, sym: str | None = None, pct: int = 0) -> None:
        for s, feed in self.fund.feeds.items():
            answer = int(feed.latestAnswer())
            if s == sym:
                answer = answer * (100 + pct) // 100
            feed.updateAnswer(answer, sender=self.accounts[0])

    def world(self, op: str, x: int, market: Any) -> None:
        f, holder = self.fund, self.accounts[1]
        if op == "deposit":
            f.cash.mint(holder, x * UNIT, sender=self.accounts[0])
            f.vault.deposit(x * UNIT, holder, sender=holder)
        elif op == "request":
            shares = min(int(f.vault.convertToShares(x * UNIT)), int(f.vault.balanceOf(holder)))
            if shares:
                f.vault.requestRedeem(shares, holder, holder, sender=holder)
                self.requests.append(int(f.vault.redeemRequestCount()) - 1)
        elif op == "cancel" and self.requests:
            rid = self.requests.pop()
            if int(f.vault.redeemRequest(rid).status) == 1:  # still pending
                self.chain.mine(timestamp=self.now() + 3_700)  # past the cancel delay
                f.vault.cancelRedeem(rid, sender=holder)
        elif op == "fulfil":
            f.vault.fulfilRedemptions(50, sender=self.desk)
        elif op == "donate":  # an outsider's transfer of a held asset to the controller
            self.donate(x)
        elif op == "feed":
            self.feeds("TBILL-A", x)
        elif op == "pool":
            push_pool(f, market, DEX[abs(x) % len(DEX)], x)
        elif op == "wait":
            self.chain.mine(timestamp=self.now() + x)

    def donate(self, x: int) -> None:
        """Units of a held asset worth about ``x`` sent to the controller by an outsider: a pool
        asset's (minted to it) or an L2 venue's shares (deposited for it)."""
        f, c, outsider = self.fund, self.fund.controller, self.accounts[8]
        sym = ("TBILL-A", "TBILL-B", "MMF-A")[x % 3]
        token = f.assets[sym]
        if sym in DEX:
            one = max(int(c.valueOf(token, 10**18)), 1)  # a whole token's value at its feed
            token.mint(c, x * UNIT * 10**18 // one, sender=self.accounts[0])
        else:
            f.cash.mint(outsider, x * UNIT, sender=self.accounts[0])
            f.cash.approve(token, x * UNIT, sender=outsider)
            token.deposit(x * UNIT, c, sender=outsider)

    # ------------------------------------------------------------------ one step

    def step(self, op: str, x: int, market: Any) -> None:
        now = self.now()
        if op in ("liquidity", "threshold"):
            self.job(f"fund.{op}", lambda: self.bot.check(op, now))
        elif op == "tick":
            self.tick()
        elif op == "approve":
            self.approve()
        elif op == "kill":
            self.restart()
        elif op == "kill_proposed":  # dies right after a plan's first write
            bot = self.bot

            def killed(*_: Any, **__: Any) -> Any:
                raise Killed("after the plan's first write")

            bot.advance = killed  # type: ignore[method-assign]
            with contextlib.suppress(Killed):
                self.job("fund.liquidity", lambda: bot.check("liquidity", now))
            self.restart()
        elif op == "kill_sending":  # dies with the first action in flight
            bot = self.bot
            sent: list[int] = []

            def hook(i: int) -> None:
                if sent:
                    raise Killed("with an action in flight")
                sent.append(i)

            bot.before_action = hook
            self.approve()
            with contextlib.suppress(Killed):
                self.job("fund.tick", lambda: bot.tick(now))
            self.restart()
        elif op == "due_run":
            self.run_due()
        elif op == "other_keeper":
            with contextlib.suppress(ContractLogicError):  # e.g. a day's budget spent
                other_keeper_invests(self.fund, self.accounts)
        else:
            with contextlib.suppress(ContractLogicError):  # a call the vault refuses
                self.world(op, x, market)

    def settle(self, market: Any) -> None:
        """The movers stop; arbitrage brings every pool back to its feed (a pool left past the
        slippage limit under its feed sells nothing, and the keeper's answer to that is a
        carried flow it runs once the pool is back, with a no_safe_move alert meanwhile); the
        keeper's checks run and the owners sign what waits."""
        for sym in DEX:
            push_pool(self.fund, market, sym, 0)
        for _ in range(SETTLE_ROUNDS):
            now = self.now()
            for job in ("liquidity", "threshold"):
                self.job(f"fund.{job}", lambda job=job, t=now: self.bot.check(job, t))
            self.approve()
            self.tick()
            quiet = not self.bot.plans.with_status(PROPOSED, PENDING_APPROVAL, APPROVED)
            if quiet and self.in_band_and_near():
                return
            self.chain.mine(timestamp=now + 600)

    def ratios(self) -> tuple[list[int], Any]:
        s = self.bot.read().state
        total = max(s.total_assets, 1)
        return [p * 10_000 // total for p in s.positions()], s

    def in_band_and_near(self) -> bool:
        r, s = self.ratios()
        cfg = self.bot.cfg
        if s.total_assets <= 0:  # the queue takes the whole fund: no band applies to the rest,
            # and every position that can be sold now is sold for the queue
            return all(a.sellable_value < cfg.min_amount_units(s.base_decimals) for a in s.assets)
        least = cfg.min_amount_units(s.base_decimals)
        # a tier over its max with nothing in it the keeper can sell now (an asynchronous RWA
        # not redeemable yet) is over by what the queue took from the rest, not by a move the
        # keeper failed to make: everything sellable in it must be sold
        bands = all(
            t.min_bps <= r[t.tier] <= t.max_bps
            or (r[t.tier] > t.max_bps and self.sellable_in(s, t.tier) < least)
            for t in s.tiers
        )
        return bands and cfg.l1_low_ratio <= r[0] <= cfg.l1_high_ratio

    @staticmethod
    def sellable_in(s: Any, tier: int) -> int:
        """What the keeper can sell of ``tier`` now (its positions' sellable value)."""
        return sum(a.sellable_value for a in s.assets if a.tier == tier)

    def sent_twice(self) -> list[str]:
        with self.bot.store.sessions() as s:
            rows = s.execute(select(m.TxIntent.idempotency_key, m.TxIntent.status)).all()
        keys = [k for k, _ in rows]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        on_chain = sum(1 for _, st_ in rows if st_ in ("mined", "confirmed", "reverted"))
        return dup + ([f"{on_chain} intents on chain"] if on_chain != self.nonce_delta() else [])

    def nonce_delta(self) -> int:
        w3 = self.chain.provider.web3
        return int(w3.eth.get_transaction_count(self.accounts[2].address)) - self.nonce0


_counter = itertools.count()


def _desk(fund: Any, accounts: Any) -> Any:
    """The redemption desk (vault KEEPER_ROLE, granted by the timelock): never the keeper's key."""
    from ballast_dev.deployment.fund import role

    desk = accounts[3]
    v = fund.vault
    r = role(v, "KEEPER_ROLE")
    if not v.hasRole(r, desk.address):
        v.grantRole(r, desk.address, sender=timelock_sender(fund, accounts))
    return desk


def _check(
    fund: Any, chain: Any, accounts: Any, tmp: Path, market: Any, ops: list,
    same_value: bool = False,
) -> None:  # fmt: skip
    """``same_value``: the keeper's view of the fund's value is the vault's own at the end
    (no feed moved: both price the same units at the same answers)."""
    snap = chain.snapshot()
    deployment = tmp / "local.json"
    try:
        n = next(_counter)
        w = World(fund, chain, accounts, deployment, f"sqlite:///{tmp}/keeper-{n}.db")
        w.desk = _desk(fund, accounts)
        w.nonce0 = int(chain.provider.web3.eth.get_transaction_count(accounts[2].address))
        for op, x in ops:
            w.step(op, x, market)
        w.settle(market)
        r, state = w.ratios()
        if same_value:
            assert state.total_assets == int(fund.vault.totalAssets()), (ops, state.total_assets)
        w.bot.store.close()
        assert not w.failures, (ops, w.failures)
        assert not w.violations, (ops, w.violations)
        assert not w.sent_twice(), (ops, w.sent_twice())
        assert w.in_band_and_near(), (ops, r)
    finally:
        chain.restore(snap)


@pytest.fixture(scope="module")
def movers(fund: Any, accounts: Any, tmp_path_factory: Any) -> tuple[Path, Any]:
    import json

    from ballast_dev.deployment.uniswap import UniswapV3

    tmp = tmp_path_factory.mktemp("movers")
    (tmp / "local.json").write_text(json.dumps(fund.addresses(), default=str))
    trader = accounts[7]
    for sym in DEX:
        fund.assets[sym].mint(trader, 10**9 * 10**18, sender=accounts[0])
    fund.cash.mint(trader, 10**12 * UNIT, sender=accounts[0])
    a = fund.adapters
    return tmp, (trader, UniswapV3(a["uniswap_factory"], a["uniswap_router"], None, None, None))


def _run(fund: Any, chain: Any, accounts: Any, movers: Any, examples: int) -> None:
    tmp, market = movers

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate, Phase.shrink],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(SEQUENCES)
    def prop(ops: list) -> None:
        _check(fund, chain, accounts, tmp, market, ops)

    prop()


def test_movers__random_interleavings__no_crash_no_wedge_no_double_send_in_band(
    fund, chain, accounts, movers
):
    _run(fund, chain, accounts, movers, 3)


def test_movers__outsiders_transfers_between_the_keepers_steps__the_fund_as_counted_in_band(
    fund, chain, accounts, movers
):
    """Outsiders send held assets (pool tokens, a venue's shares) to the controller between the
    keeper's checks, a kill and the due run: the keeper plans on the units the controller counts
    (FundLens, accountedUnits), so its view of the fund is the vault's own and the fund ends in
    band as counted. On the raw balances it saw 3,000,000 more than the fund and sold real L3
    for a phantom overweight."""
    tmp, market = movers
    ops = [("deposit", 4_000_000), ("liquidity", 0), ("donate", 3_000_000), ("threshold", 0),
           ("donate", 1_000_001), ("kill", 0), ("due_run", 0), ("donate", 2_000_002),
           ("liquidity", 0), ("tick", 0)]  # fmt: skip
    _check(fund, chain, accounts, tmp, market, ops, same_value=True)


def test_movers__the_kill_then_another_mover_sequence__no_crash_no_wedge_in_band(
    fund, chain, accounts, movers
):
    """The issue's month in a few steps: 8,000,000 in, the plan recorded and the keeper
    killed before its risk check, the due run (ERC-4626 legs only) and another keeper-role
    process's forced rebalance invest the cash, the keeper goes on."""
    tmp, market = movers
    ops = [("deposit", 4_000_000), ("deposit", 4_000_000), ("kill_proposed", 0),
           ("due_run", 0), ("other_keeper", 0), ("tick", 0), ("liquidity", 0)]  # fmt: skip
    _check(fund, chain, accounts, tmp, market, ops)


@pytest.mark.slow
def test_movers__many_random_interleavings__no_crash_no_wedge_no_double_send_in_band(
    fund, chain, accounts, movers
):
    _run(fund, chain, accounts, movers, 60)


def test_movers__liquidity_twice_then_a_large_request__l3_stays_under_its_max(
    fund, chain, accounts, movers
):
    """What a random run found (prev note of issue 52): the cash the keeper raises for a
    1,555,876 request left L3 at 70.13%, over its 70% max, with Top3ConcentrationExceeded
    simulation failures on the way."""
    tmp, market = movers
    ops = [("liquidity", 0), ("liquidity", 0), ("request", 1_555_876)]
    _check(fund, chain, accounts, tmp, market, ops)


def test_movers__liquidity_twice_then_a_request_of_1_568_963__l3_stays_under_its_max(
    fund, chain, accounts, movers
):
    """What the 60-example slow run found after the 1,555,876 fix: the same shape at a nearby
    size left L3 at 70.01% (tier ratios [974, 2024, 7001] bps), 1 bp over its max."""
    tmp, market = movers
    ops = [("liquidity", 0), ("liquidity", 0), ("request", 1_568_963)]
    _check(fund, chain, accounts, tmp, market, ops)


@pytest.mark.slow  # the harness's own rule, not a keeper fix: kept out of make test's time
def test_movers__liquidity_twice_then_a_request_of_1_569_048__l3_over_only_by_the_unsellable_rwa(
    fund, chain, accounts, movers
):
    """What the 60-example slow run found next (2026-11-28): the same shape at 1,569,048 left
    L3 at 70.01% ([974, 2024, 7001] bps) with everything sellable in it sold: L3 is PRIVCRED
    alone (300,000, asynchronous, nothing redeemable now) of the 428,509 the queue left, 62
    short of 70% after the pool sales' costs. No move of the keeper's can bring it under its
    max; the property now accepts a tier over its max only with nothing in it to sell (the
    rule the whole-fund request below follows for a total of 0)."""
    tmp, market = movers
    ops = [("liquidity", 0), ("liquidity", 0), ("request", 1_569_048)]
    _check(fund, chain, accounts, tmp, market, ops)


def test_movers__a_request_for_the_whole_fund__everything_sellable_sold_for_the_queue(
    fund, chain, accounts, movers
):
    """What a 40-example run found (seed 52): a holder's request for all its shares queues the
    whole fund (total 0); the planner planned nothing ("pending redemptions exceed the fund's
    assets") and 1,500,000 that could be sold at once waited with the queue."""
    tmp, market = movers
    _check(fund, chain, accounts, tmp, market, [("request", 2_293_315), ("liquidity", 0)])


@pytest.mark.slow  # the harness's own rule, not a keeper fix: kept out of make test's time
def test_movers__a_feed_push_leaves_a_pool_past_the_slippage_limit__in_band_once_arbitraged(
    fund, chain, accounts, movers
):
    """What a 40-example run found next (seed 52): TBILL-A's feed 2% up left its pool 191 bps
    under the feed, so no sale of it fits the 200 bps limit, and with a 1,146,017 queue L3's
    unsellable part alone (TBILL-A and the asynchronous PRIVCRED) was 70.45% of the fund. The
    keeper's answer is by design (a no_safe_move alert, the flow carried); the property now
    lets arbitrage bring the pools back when the movers stop, as it would."""
    tmp, market = movers
    ops = [("liquidity", 0), ("request", 1_146_017), ("feed", 2)]
    _check(fund, chain, accounts, tmp, market, ops)
