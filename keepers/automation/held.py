"""The executor's hold on a fund rebalancer whose controller has a held feed down (issues 45/47).

A fund rebalancer is a Rebalancer whose owner trusts its target (``trustedTarget()``: the fund's
AssetController, the one target whose ``RebalanceHeld`` and ``offTarget`` word the Rebalancer
believes and retries at interval / 24 without backing off). While a held asset's feed is down
(stale, zero, out of bounds, reverting) the controller values that position at zero
(``pricingValues()``'s third word, ``feedDown``: the same verdict that makes the vault refuse
entries): a run then either moves the rest of the fund as if the position were worth nothing,
or is held (``RebalanceHeld``, or cut and off target) and books its retry an hour later, each
retry paid from the funder's shared daily cap. So while the controller says a held feed is
down, the executor holds that rebalancer's due runs back instead of paying for them:

- the run stays booked (the fund's booking survives; nothing is spent while it waits);
- none is let through meanwhile by default: on the local fund with TBILL-A's feed stale, one
  run bought 300,000 of the other L3 assets (195,000 TBILL-B, 105,000 CREDIT) on a valuation
  without TBILL-A's position, and the retry tests/offchain/automation/test_held_feed.py lets
  through moves the fund the same way. ``KEEPER_EXECUTOR_HELD_RETRY_S`` > 0
  lets one through per that many seconds, as the retry of that period, for an operator who
  prefers the fund's daily run to go on regardless;
- the run goes at once, in the same tick, when the controller says every held feed is usable
  again (re-read at most every ``KEEPER_EXECUTOR_HELD_CHECK_EVERY_S`` while the run is due).

Each hold says so: one ``executor.rebalancer_held`` log line and a ``rebalancer_held`` alert
naming the rebalancer, the controller, each down feed (the fund keeper's own rule and reader,
:mod:`keepers.core.feeds`: which feed, why, the age of its last answer) and what the
rebalancer's last run said (``RebalanceHeld()``, moved or not); the gauge
``keeper_executor_runs_held_back`` counts the due runs it holds; ``rebalancer_resumed`` says
when it lets them go. Other rebalancers' runs are not touched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from eth_utils import to_checksum_address
from prometheus_client import Counter, Gauge
from web3.contract import Contract

from keepers import abis
from keepers.automation.chain import Call, ChainIO, Event
from keepers.automation.planning import DueRun, due_again, hold_run
from keepers.core.feeds import FeedDown, check_feed
from keepers.core.logging import get_logger
from keepers.runtime.alerts import Alerter, AlertLevel
from keepers.tx.contracts import contract_at
from keepers.tx.errors import NodeError
from keepers.tx.revert import RevertDecoder

log = get_logger("keepers.executor")

RUNS_HELD = Gauge(
    "keeper_executor_runs_held_back",
    "Due runs of fund rebalancers the executor holds back while their controller has a held "
    "feed down",
)
HELD_RETRIES = Counter(
    "keeper_executor_held_retries_total",
    "Runs of a held fund rebalancer let through as the retry of their KEEPER_EXECUTOR_HELD_RETRY_S",
)

REBALANCER_EVENTS = ("Rebalanced", "RebalanceFailed")
# how long a handler's reading (fund rebalancer of which controller, or not) is trusted
CLASSIFY_EVERY_S = 300


@dataclass
class Hold:
    """A controller that has a held feed down, since ``since``."""

    since: int
    feeds: list[FeedDown] = field(default_factory=list)


class FundHold:
    """See the module docstring. ``split`` is called by the executor with the due runs."""

    def __init__(
        self,
        io: ChainIO,
        decoder: RevertDecoder,
        retry_s: int,
        check_every_s: int,
        alerter: Alerter | None = None,
    ) -> None:
        self.io = io
        self.decoder = decoder
        self.retry_s = retry_s
        self.check_every_s = check_every_s
        self.alerter = alerter
        self._fund_of: dict[str, tuple[str | None, int]] = {}  # handler -> (controller, read at)
        self.holds: dict[str, Hold] = {}  # controller -> its hold
        self.retried: dict[str, int] = {}  # rebalancer -> when its last held run was let through
        self.last_run: dict[str, str] = {}  # rebalancer -> what its last run said
        self._checked: dict[str, tuple[int, bool]] = {}  # controller -> (when, feed down)
        self._unreadable: set[str] = set()  # said once each
        self._no_trusted: set[str] = set()  # rebalancers without trustedTarget(), said once each

    # --- which handlers are fund rebalancers --------------------------------------------------

    @property
    def fund_rebalancers(self) -> list[str]:
        return sorted(h for h, (c, _) in self._fund_of.items() if c is not None)

    def _classify(self, handlers: Iterable[str], now: int) -> None:
        todo = sorted(
            {
                h
                for h in handlers
                if h not in self._fund_of or now - self._fund_of[h][1] >= CLASSIFY_EVERY_S
            }
        )
        if not todo:
            return
        calls: list[Call] = []
        for h in todo:
            c = self.io.contract("Rebalancer", h)
            calls += [Call(c, "trustedTarget"), Call(c, "position")]
        res = self.io.call_many(calls)
        for i, h in enumerate(todo):
            trusted, position = res[2 * i], res[2 * i + 1]
            if isinstance(trusted, NodeError) and not isinstance(position, NodeError):
                self._safeguard_off(h, str(trusted))
            fund = (
                not isinstance(trusted, NodeError)
                and not isinstance(position, NodeError)
                and bool(trusted)
            )
            self._fund_of[h] = (to_checksum_address(position) if fund else None, now)

    def _safeguard_off(self, handler: str, error: str) -> None:
        """Said once per rebalancer: one without ``trustedTarget()`` (contracts older than
        0.1.0) is never classed as a fund rebalancer, so the hold is off for it."""
        if handler in self._no_trusted:
            return
        self._no_trusted.add(handler)
        log.warning(
            "executor.held_safeguard_off",
            rebalancer=handler,
            why="no trustedTarget() (a Rebalancer older than contract release 0.1.0): its runs "
            "are never held while a held feed is down",
            error=error,
        )

    def controller_of(self, handler: str) -> str | None:
        entry = self._fund_of.get(handler)
        return None if entry is None else entry[0]

    # --- the hold -----------------------------------------------------------------------------

    def _controller(self, address: str) -> Contract:
        return contract_at(self.io.w3, address, abis.load("AssetController"))

    def _feed_down(self, controllers: list[str], now: int) -> dict[str, bool]:
        """The controller's own verdict (``pricingValues().feedDown``), read at most every
        ``check_every_s`` per controller; an unreadable controller keeps its last verdict."""
        due = [
            c
            for c in controllers
            if due_again(self._checked.get(c, (None,))[0], now, self.check_every_s)
        ]
        if due:
            res = self.io.call_many([Call(self._controller(c), "pricingValues") for c in due])
            for c, r in zip(due, res, strict=True):
                if isinstance(r, NodeError):  # a trusted target that is not a fund controller
                    if c not in self._unreadable:
                        self._unreadable.add(c)
                        log.warning("executor.controller_unreadable", controller=c, error=str(r))
                    continue
                self._unreadable.discard(c)
                self._checked[c] = (now, bool(r[2]))
        return {c: self._checked.get(c, (0, False))[1] for c in controllers}

    def _down_feeds(self, controller: str, now: int) -> list[FeedDown]:
        """Which listed feeds of the controller fail the fund keeper's rule, and why."""
        c = self._controller(controller)
        try:
            tokens = c.functions.assetList().call()
        except Exception as err:  # noqa: BLE001 - the hold stands on the controller's verdict
            log.warning("executor.asset_list_unreadable", controller=controller, error=str(err))
            return []
        out = []
        for t in tokens:
            down = check_feed(c, self.io.w3, str(t), "asset", now, "latest")
            if down is not None:
                out.append(down)
        return out

    def held_of(self, handlers: Iterable[str], now: int) -> dict[str, str]:
        """The fund rebalancers among ``handlers`` whose controller has a held feed down now,
        with that controller (the supervisor's question: no hold is started or logged)."""
        handlers = list(handlers)
        self._classify(handlers, now)
        of = {h: c for h in handlers if (c := self.controller_of(h))}
        down = self._feed_down(sorted(set(of.values())), now) if of else {}
        return {h: c for h, c in of.items() if down[c]}

    def split(self, runs: list[DueRun], now: int) -> tuple[list[DueRun], list[DueRun]]:
        """(runs to execute, runs held back) of the due ``runs`` at ``now``."""
        self._classify((r.handler for r in runs if r.handler), now)
        # the held ones too: a hold ends when the feed is back, even if its run went meanwhile
        controllers = sorted(
            {c for r in runs if (c := self.controller_of(r.handler))} | set(self.holds)
        )
        down = self._feed_down(controllers, now) if controllers else {}
        for c in controllers:
            if down[c] and c not in self.holds:
                self._start(c, now)
            elif not down[c] and c in self.holds:
                self._end(c, now)
        go: list[DueRun] = []
        held: list[DueRun] = []
        for r in runs:
            c = self.controller_of(r.handler)
            hold = self.holds.get(c) if c else None
            if hold is None:
                go.append(r)
            elif hold_run(hold.since, self.retried.get(r.handler), now, self.retry_s):
                held.append(r)
            else:
                self.retried[r.handler] = now
                HELD_RETRIES.inc()
                log.info(
                    "executor.held_run_retried",
                    rebalancer=r.handler,
                    run=r.id,
                    controller=c,
                    held_since=hold.since,
                    retry_s=self.retry_s,
                )
                go.append(r)
        RUNS_HELD.set(len(held))
        return go, held

    def _start(self, controller: str, now: int) -> None:
        feeds = self._down_feeds(controller, now)
        self.holds[controller] = Hold(now, feeds)
        rebs = [h for h in self.fund_rebalancers if self.controller_of(h) == controller]
        what = "; ".join(f.describe() for f in feeds) or "pricingValues() reports feedDown"
        last = "; ".join(f"{r}: {self.last_run[r]}" for r in rebs if r in self.last_run)
        retry = (
            f"one run per {self.retry_s} s is let through meanwhile"
            if self.retry_s
            else "no run is let through meanwhile"
        )
        message = (
            f"fund rebalancer(s) {', '.join(rebs)} held back: controller {controller} has a held "
            f"feed down ({what}); their due runs stay booked and are executed as soon as the "
            f"feed is usable again; {retry}" + (f"; last run: {last}" if last else "")
        )
        log.warning(
            "executor.rebalancer_held",
            controller=controller,
            rebalancers=rebs,
            feeds=[f.describe() for f in feeds],
            last_run=last,
            retry_s=self.retry_s,
        )
        if self.alerter is not None:
            self.alerter(
                AlertLevel.WARNING,
                "rebalancer_held",
                message,
                controller=controller,
                rebalancers=rebs,
                feeds=[f.feed for f in feeds],
            )

    def _end(self, controller: str, now: int) -> None:
        hold = self.holds.pop(controller)
        rebs = [h for h in self.fund_rebalancers if self.controller_of(h) == controller]
        for r in rebs:
            self.retried.pop(r, None)
        log.info(
            "executor.rebalancer_resumed",
            controller=controller,
            rebalancers=rebs,
            held_s=now - hold.since,
        )
        if self.alerter is not None:
            self.alerter(
                AlertLevel.INFO,
                "rebalancer_resumed",
                f"fund rebalancer(s) {', '.join(rebs)} resumed: controller {controller} prices "
                f"every held asset again after {now - hold.since} s; their due runs go now",
                controller=controller,
                rebalancers=rebs,
            )

    # --- what the last run said ---------------------------------------------------------------

    def observe(self, events: Iterable[Event]) -> None:
        """The fund rebalancers' Rebalanced / RebalanceFailed logs: what each last run said."""
        for ev in events:
            if ev.name == "RebalanceFailed":
                reason = self.decoder.decode(bytes(ev.args["reason"]))
                said = f"run {ev.args['runId']} reverted {reason or 'without a reason'}"
            elif ev.name == "Rebalanced":
                moved = "moved" if ev.args["moved"] else "moved nothing"
                said = f"run {ev.args['runId']} {moved}"
            else:
                continue
            self.last_run[ev.address] = said
