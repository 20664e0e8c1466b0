"""The cross-chain move state machine (seed 000), persisted in `crosschain_moves`.

Every move goes through the seed's four states, each one atomic, retryable and idempotent:

    awaiting_approval --(approved)--> transfer_out -> cross -> transfer_in -> invest -> done
            |                             |             |          |            |
         rejected / expired            failed (after `max_attempts` errors, or a route FAILED)

``state`` is always the *next* step to run, so a new process picks a move up where the last
one left it (`MoveEngine.advance_all`). What each step means on each route:

| seed step    | CCTP (USDC)                  | USDT0 (USDT, LayerZero OFT)  | CEX (either)              |
|--------------|------------------------------|------------------------------|---------------------------|
| Transfer_Out | [pull holder->keeper] +      | [pull] + approve (adapter) + | [pull] + ERC-20 transfer  |
|              | approve + depositForBurn     | OFT send (burn / lock)       | to the deposit address    |
| Cross        | wait for the attestation     | wait for DVN verification    | wait for the deposit      |
|              | (`status` polled)            | (or delivery by an executor) | to be credited            |
| Transfer_In  | receiveMessage (mint)        | lzReceive (execute packet)   | withdraw, then wait for   |
|              |                              |                              | the withdrawal to be paid |
| Invest       | ERC-20 transfer of the amount that arrived, keeper -> the destination's holder     |

The burn / send / deposit *is* the seed's "move to the bridge's start": on these routes the
keeper account is the bridge's start and end address. When a chain's inventory holder is
not the keeper account, Transfer_Out first pulls the amount (``transferFrom``, the holder
approved the keeper) and Invest pays it to the holder; when they are the same account the
pull and Invest are no-ops (recorded as such).

Idempotency: every on-chain step goes through the transaction pipeline with the intent key
``xmove:<move id>:<step>:g<gen>:<target>:<selector>``; running a step again (after a crash,
a timeout, a duplicate tick) finds the same intent and its receipt instead of sending again.
``gen`` only moves on when a step's transaction ended failed/reverted (a new try needs new
transactions); an error *after* a transaction confirmed never re-sends it. The route is
persisted before anything is sent, so a resumed Transfer_Out never falls back to another
route after funds may have left. Transfer_In relies on the routes' "already received"
answers (a message relayed by someone else is not received twice).

Big moves (operator instructions) need approval (keepers.core.approval, at least one
admin); small moves (from the planner) run at once. Moves are independent: `advance_all`
advances each in its own thread (one pipeline per chain, driven under a per-chain lock).

In flight (`in_flight`, for the planner): every move not in a terminal state, including one
awaiting approval (so its deficit is not planned a second time meanwhile); ``debited`` once
Transfer_Out completed (before that the source is treated as still holding the amount, so
the planner can only under-estimate a surplus, never spend it twice). A `failed` move is no
longer in flight: an operator must look at it (the bot raises a critical alert); the error
names the step and the reason. Transfer_In never gives up (funds on their way are claimed
whenever the route allows); a route with no usable candidate fails Transfer_Out before any
transaction is sent (rulebook section 7).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address
from sqlalchemy import select
from web3 import Web3
from web3.exceptions import TimeExhausted

from keepers import abis
from keepers.core.approval import ApprovalPolicy, ApprovalRecord, ApprovalStatus, decide
from keepers.core.logging import get_logger
from keepers.crosschain.cctp import BurnBody, CctpMessage
from keepers.crosschain.chains import describe
from keepers.crosschain.config import Asset, CrosschainConfig, RouteName
from keepers.crosschain.planning import InFlightMove, Rounding, from_scaled
from keepers.crosschain.router import AdapterFactory
from keepers.crosschain.routes import (
    RouteAdapter,
    RouteDeferred,
    RouteError,
    RouteHandle,
    RouteRejected,
    RouteStatus,
    TxSender,
    send_call,
)
from keepers.crosschain.senders import ChainDriver, PipelineSender, StepFailed, StepPending
from keepers.store import models as m
from keepers.store.db import Store
from keepers.store.statuses import MOVE, PLAN, MoveState, transition
from keepers.tx.contracts import contract_at
from keepers.tx.errors import NodeError, SignerConflict

log = get_logger("keepers.crosschain.moves")

ROLE = "crosschain"
# the states and their transitions are data: keepers.store.statuses (MOVE)
AWAITING_APPROVAL = MoveState.AWAITING_APPROVAL
TRANSFER_OUT, CROSS = MoveState.TRANSFER_OUT, MoveState.CROSS
TRANSFER_IN, INVEST = MoveState.TRANSFER_IN, MoveState.INVEST
DONE, FAILED = MoveState.DONE, MoveState.FAILED
REJECTED, EXPIRED = MoveState.REJECTED, MoveState.EXPIRED
TERMINAL = MOVE.final
STEPS = (TRANSFER_OUT, CROSS, TRANSFER_IN, INVEST)
DEBITED = frozenset({CROSS, TRANSFER_IN, INVEST})  # the source holder no longer has it
# Transfer_Out calls that take the amount out of the source holder's balance: the pull from a
# holder (transferFrom); from the keeper's own account the burn, the OFT send or the deposit
_PULL = frozenset({"0x23b872dd"})
_OUTFLOWS = frozenset({"0x8e0250ee", "0xc7c7f5b3", "0xa9059cbb"})


# --------------------------------------------------------------------------- engine


@dataclass(frozen=True)
class MoveView:
    """A move as read from the store (detached, for reports and tests)."""

    id: int
    ref: str
    kind: str
    asset: str
    source: str
    dest: str
    state: str
    route: str | None
    amount_scaled: int
    amount_source: int
    amount_dest: int
    amount_sent: int | None
    amount_received: int | None
    attempts: int
    error: str | None
    handle_ref: str | None

    @classmethod
    def of(cls, row: m.CrosschainMove) -> MoveView:
        return cls(
            row.id,
            row.ref,
            row.kind,
            row.asset,
            row.source,
            row.dest,
            row.state,
            row.route,
            row.amount_scaled,
            row.amount_source,
            row.amount_dest,
            row.amount_sent,
            row.amount_received,
            row.attempts,
            row.error,
            row.handle_ref,
        )


FactoryBuilder = Callable[[TxSender], AdapterFactory]
"""sender -> adapter factory (e.g. ``lambda s: wiring.adapter_factory(cfg, w3s, s, keeper)``)."""


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


class MoveEngine:
    """Creates moves and advances them through their states (see the module doc)."""

    def __init__(
        self,
        store: Store,
        config: CrosschainConfig,
        w3s: Mapping[str, Web3],
        drivers: Mapping[str, ChainDriver],
        keeper: str,
        factory_builder: FactoryBuilder,
        *,
        holders: Mapping[str, str] | None = None,
        approval: ApprovalPolicy | None = None,
        step_timeout_s: float = 60.0,
        poll_interval_s: float = 2.0,
        retry_backoff_s: float = 5.0,
        max_attempts: int = 5,
        max_workers: int = 8,
        rejected_hold_s: float = 3600.0,
        hook: Callable[[int, str, str], None] | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.w3s = dict(w3s)
        self.drivers = dict(drivers)
        self._by_chain_id = {d.chain_id: d for d in self.drivers.values()}
        self.keeper = to_checksum_address(keeper)
        self.factory_builder = factory_builder
        self.holders = {k: to_checksum_address(v) for k, v in (holders or {}).items()}
        self.approval_policy = approval or ApprovalPolicy()
        self.step_timeout_s = step_timeout_s
        self.poll_interval_s = poll_interval_s
        self.retry_backoff_s = retry_backoff_s
        self.max_attempts = max_attempts
        # a permanent refusal (RouteRejected) is asked again only after this long: an operator
        # fixes the configuration meanwhile (the bot alerts); a restart asks again at once
        self.rejected_hold_s = rejected_hold_s
        self.max_workers = max_workers
        self.hook = hook  # (move id, step, point) -> None; fault injection in tests
        # set when the keeper stops (SIGTERM): no new step, no new intent; a step's transaction
        # in flight is left recorded and the move resumes from its state on restart
        self.stopping = threading.Event()
        # replicas (keeper run): locks this bot's lease row inside the transaction that records
        # new moves and raises LeaseLost unless this process leads (keepers.runtime.leases)
        self.fence: Callable[[Any], Any] | None = None

    def add_driver(self, name: str, driver: ChainDriver) -> None:
        """A chain's pipeline made once the chain first answered (its senders find it)."""
        self.drivers[name] = driver
        self._by_chain_id[driver.chain_id] = driver

    def holder(self, chain: str) -> str:
        return self.holders.get(chain, self.keeper)

    # ------------------------------------------------------------------ creation

    def create(
        self,
        asset: str,
        source: str,
        dest: str,
        amount_scaled: int,
        *,
        kind: str = "small",
        ref: str | None = None,
        now: float | None = None,
    ) -> MoveView:
        return self.create_many(
            [(asset, source, dest, amount_scaled)], kind=kind, now=now, refs=[ref]
        )[0]

    def create_many(
        self,
        legs: Iterable[tuple[str, str, str, int]],
        *,
        kind: str = "small",
        now: float | None = None,
        refs: Iterable[str | None] | None = None,
    ) -> list[MoveView]:
        """Record moves in ONE DB transaction (a plan's legs appear together or not at all).
        ``kind='big'`` moves wait for approval; their approvals live on a `plans` row."""
        legs = list(legs)
        refs_l = list(refs) if refs is not None else [None] * len(legs)
        at = _utc(now if now is not None else time.time())
        rows = []
        for (asset, source, dest, amount), ref in zip(legs, refs_l, strict=True):
            a = Asset(asset)
            src, dst = self.config.chain(source), self.config.chain(dest)
            sd, dd = src.tokens[a].decimals, dst.tokens[a].decimals
            rows.append(
                m.CrosschainMove(
                    ref=ref or uuid.uuid4().hex[:16],
                    kind=kind,
                    asset=a.value,
                    source=source,
                    dest=dest,
                    state=MOVE.start(AWAITING_APPROVAL if kind == "big" else TRANSFER_OUT),
                    routes_skipped=[],
                    amount_scaled=amount,
                    amount_source=from_scaled(amount, sd, Rounding.DOWN),
                    amount_dest=from_scaled(amount, dd, Rounding.DOWN),
                    source_decimals=sd,
                    dest_decimals=dd,
                    source_holder=self.holder(source),
                    dest_holder=self.holder(dest),
                    plan_id=None,
                    attempts=0,
                    gen=0,
                    next_try_at=at,
                    created_at=at,
                    state_since=at,
                )
            )
        with self.store.transaction() as s:  # the moves and their approval plans, or nothing
            if self.fence is not None:
                self.fence(s)
            if kind == "big":  # each waits for approval on a plan of its own
                for r in rows:
                    plan = m.Plan(
                        kind="crosschain_move",
                        payload={
                            "asset": r.asset,
                            "source": r.source,
                            "dest": r.dest,
                            "amount": str(r.amount_scaled),
                        },
                        trigger="operator",
                        status=PLAN.start("proposed"),
                    )
                    s.add(plan)
                    s.flush()
                    r.plan_id = plan.id
            s.add_all(rows)
            s.flush()
            views = [MoveView.of(r) for r in rows]
        for v in views:
            log.info(
                "move.created",
                move=v.id,
                ref=v.ref,
                kind=kind,
                asset=v.asset,
                source=v.source,
                dest=v.dest,
                amount=v.amount_source,
            )
        return views

    # ------------------------------------------------------------------ reads

    def moves(self, active_only: bool = False) -> list[MoveView]:
        with self.store.sessions() as s:
            q = select(m.CrosschainMove).order_by(m.CrosschainMove.id)
            if active_only:
                q = q.where(m.CrosschainMove.state.not_in(list(TERMINAL)))
            return [MoveView.of(r) for r in s.scalars(q)]

    def move(self, move_id: int) -> MoveView:
        with self.store.sessions() as s:
            row = s.get(m.CrosschainMove, move_id)
            if row is None:
                raise LookupError(f"no move {move_id}")
            return MoveView.of(row)

    def in_flight(self) -> list[InFlightMove]:
        """Every move not finished, for the planner (18-decimal amounts). A move still in
        Transfer_Out counts as debited once the amount left the source holder's balance (the
        pull from a holder, or the burn/send/deposit from the keeper's own account confirmed):
        the planner reads that balance, and counting the amount out of it a second time made
        a false deficit at the source (a crash between the burn and its record: "insufficient
        surplus" for a chain that was sending)."""
        views = self.moves(active_only=True)
        left = self._left_source([v.id for v in views if v.state == TRANSFER_OUT])
        return [
            InFlightMove(
                v.source, v.dest, v.asset, v.amount_scaled, v.state in DEBITED or v.id in left
            )
            for v in views
        ]

    def _left_source(self, ids: list[int]) -> set[int]:
        """Moves (of ``ids``, in Transfer_Out) whose amount already left the source holder."""
        if not ids:
            return set()
        out = set()
        with self.store.sessions() as s:
            rows = {
                r.id: r
                for r in s.scalars(select(m.CrosschainMove).where(m.CrosschainMove.id.in_(ids)))
            }
            for move_id, row in rows.items():
                holder = to_checksum_address(row.source_holder or self.keeper)
                selectors = _PULL if holder != self.keeper else _OUTFLOWS
                keys = s.scalars(
                    select(m.TxIntent.idempotency_key).where(
                        m.TxIntent.idempotency_key.like(f"xmove:{move_id}:{TRANSFER_OUT}:%"),
                        m.TxIntent.status == "confirmed",
                        m.TxIntent.receipt_status == 1,
                    )
                ).all()
                if any(k.rsplit(":", 1)[-1] in selectors for k in keys):
                    out.add(move_id)
        return out

    # ------------------------------------------------------------------ approval

    def approve(self, move_id: int, admin: str, approve: bool = True, note: str = "") -> None:
        from keepers.store.repo import record_approval

        v = self._row_plan(move_id)
        record_approval(
            self.store, v, "crosschain", admin, "approve" if approve else "reject", note
        )

    def _row_plan(self, move_id: int) -> int:
        with self.store.sessions() as s:
            row = s.get(m.CrosschainMove, move_id)
            if row is None or row.plan_id is None:
                raise LookupError(f"move {move_id} needs no approval")
            return row.plan_id

    def approval(self, move_id: int, now: float) -> ApprovalStatus:
        with self.store.sessions() as s:
            row = s.get(m.CrosschainMove, move_id)
            assert row is not None and row.plan_id is not None
            records = [
                ApprovalRecord(
                    a.approver or "",
                    int(a.decided_at.timestamp()) if a.decided_at else 0,
                    a.decision == "approve",
                    a.reason or "",
                )
                for a in s.scalars(select(m.Approval).where(m.Approval.plan_id == row.plan_id))
                if a.decision in ("approve", "reject")
            ]
            total, decimals = row.amount_source, row.source_decimals
            requested = int(row.created_at.timestamp())
        # an operator's move always needs at least one admin (tiers above from the policy)
        cfg = self.approval_policy.model_copy(
            update={"approval_review_amount": 0, "rebalance_approval_threshold": 0}
        )
        return decide(total, decimals, requested, records, int(now), cfg).status

    # ------------------------------------------------------------------ advancing

    def advance_all(
        self,
        now: float | None = None,
        parallel: bool = True,
        blocked: Callable[[MoveView], str | None] | None = None,
    ) -> list[MoveView]:
        """Advance every active move as far as it can go now; moves run in parallel. A move
        ``blocked`` gives a reason for (a chain its next step needs is down or halted) is not
        stepped: it waits with that reason in its ``error`` and goes on once the chain is back."""
        ids = []
        held = []
        for v in self.moves(active_only=True):
            why = blocked(v) if blocked is not None else None
            if why is None:
                ids.append(v.id)
                continue
            held.append(v.id)
            reason = f"waiting: {why}"
            if v.error != reason:
                self._update(v.id, error=reason)
                log.warning("move.waiting", move=v.id, state=v.state, reason=why)
        if not ids:
            return [self.move(i) for i in held]
        if parallel and len(ids) > 1:
            with ThreadPoolExecutor(max_workers=min(self.max_workers, len(ids))) as pool:
                list(pool.map(lambda i: self.advance(i, now), ids))
        else:
            for i in ids:
                self.advance(i, now)
        return [self.move(i) for i in sorted(ids + held)]

    def halted_chains(self) -> dict[str, str]:
        """Chains whose pipeline halted (another process sends with the keeper's key there):
        chain name -> the SignerConflict's message."""
        return {
            name: str(d.pipeline.halted)
            for name, d in self.drivers.items()
            if getattr(d.pipeline, "halted", None) is not None
        }

    def advance(self, move_id: int, now: float | None = None) -> MoveView:
        """Run steps of one move until it waits (off-chain, backoff) or ends."""
        for _ in range(len(STEPS) + 2):
            if self.stopping.is_set():
                break
            t = now if now is not None else time.time()
            with self.store.sessions() as s:
                row = s.get(m.CrosschainMove, move_id)
                assert row is not None
                state, due = row.state, row.next_try_at
            if state in TERMINAL or due > _utc(t):
                break
            if not self._step(move_id, state, t):
                break
        return self.move(move_id)

    def _step(self, move_id: int, state: str, now: float) -> bool:
        """One step; True when the move moved on (and may continue at once)."""
        try:
            if state == AWAITING_APPROVAL:
                return self._await_approval(move_id, now)
            return bool(getattr(self, f"_{state}")(move_id, now))
        except StepPending as err:
            self._wait(move_id, now + self.poll_interval_s, str(err))
            return False
        except RouteRejected as err:  # a permanent answer: retrying cannot help, hold the move
            self._wait(move_id, now + self.rejected_hold_s, f"{state}: RouteRejected: {err}")
            log.error("move.rejected", move=move_id, step=state, reason=str(err))
            return False
        except RouteDeferred as err:  # the route's service asks to wait: not a failed attempt
            wait = max(err.retry_after_s, self.poll_interval_s)
            self._wait(move_id, now + wait, f"{state}: {err}")
            log.info("move.deferred", move=move_id, step=state, wait_s=wait, reason=str(err))
            return False
        except SignerConflict as err:  # another process sends with our key: stop this chain
            self._wait(move_id, now + self.poll_interval_s, f"{state}: halted: {err}")
            log.critical("move.halted", move=move_id, step=state, error=str(err))
            return False
        except (RouteError, ValueError, KeyError) as err:
            self._failure(move_id, state, err, now)
            return False
        except (OSError, NodeError, TimeExhausted) as err:
            # a node that stopped answering mid-step: not the move's failure; the step runs
            # again once the chain answers (the next tick's reads mark it down meanwhile)
            why = describe(err)
            self._wait(move_id, now + max(self.poll_interval_s, 1.0), f"{state}: node: {why}")
            log.warning("move.node_error", move=move_id, step=state, error=why)
            return False

    def _failure(self, move_id: int, state: str, err: Exception, now: float) -> None:
        with self.store.transaction() as s:
            row = s.get(m.CrosschainMove, move_id)
            assert row is not None
            row.attempts += 1
            if isinstance(err, StepFailed):
                row.gen += 1  # the failed transaction is final: a new try needs new ones
            row.error = f"{state}: {type(err).__name__}: {err}"
            row.next_try_at = _utc(now + self.retry_backoff_s * 2 ** min(row.attempts, 6))
            if row.attempts >= self.max_attempts and state != TRANSFER_IN:
                # Transfer_In keeps retrying: the funds are on their way and must be claimed
                transition(MOVE, row, FAILED)
                row.finished_at = row.state_since = m.utcnow()
            attempts, final = row.attempts, row.state
        log.warning(
            "move.step_error",
            move=move_id,
            step=state,
            attempts=attempts,
            state=final,
            error=str(err),
        )

    def _wait(self, move_id: int, until: float, error: str) -> None:
        """The move waits in its state until ``until`` (unix seconds), ``error`` saying why."""
        self._update(move_id, next_try_at=_utc(until), error=error)

    def _update(self, move_id: int, **fields: Any) -> None:
        with self.store.transaction() as s:
            row = s.get(m.CrosschainMove, move_id)
            assert row is not None
            if "state" in fields:
                transition(MOVE, row, fields.pop("state"))
                row.state_since = m.utcnow()
            for k, v in fields.items():
                setattr(row, k, v)

    def _row(self, move_id: int) -> m.CrosschainMove:
        with self.store.sessions() as s:
            row = s.get(m.CrosschainMove, move_id)
            assert row is not None
            return row

    def _sender(self, row: m.CrosschainMove, step: str) -> PipelineSender:
        return PipelineSender(
            self.store,
            self._by_chain_id,
            self.keeper,
            f"xmove:{row.id}:{step}:g{row.gen}",
            timeout_s=self.step_timeout_s,
            stop=self.stopping,
        )

    def _adapter(self, row: m.CrosschainMove, route: str, sender: TxSender) -> RouteAdapter:
        factory = self.factory_builder(sender)
        adapter = factory(RouteName(route), Asset(row.asset), row.source, row.dest)
        if adapter is None:
            raise RouteError(f"no adapter wired for {route} {row.source}->{row.dest}")
        return adapter

    @staticmethod
    def _handle(row: m.CrosschainMove) -> RouteHandle:
        assert row.route and row.handle_tx and row.handle_message is not None
        return RouteHandle(
            row.route,
            row.source,
            row.dest,
            bytes.fromhex(row.handle_tx.removeprefix("0x")),
            int(row.handle_log_index or 0),
            bytes.fromhex(row.handle_message.removeprefix("0x")),
            amount=int(row.amount_sent or 0),
            ref=row.handle_ref or "",
        )

    def _token(self, chain: str, asset: str) -> Any:
        addr = self.config.chain(chain).tokens[Asset(asset)].address
        return contract_at(self.w3s[chain], addr, abis.load("IERC20Min"))

    def _pulled(self, row: m.CrosschainMove, token: str) -> bool:
        pattern = f"xmove:{row.id}:{TRANSFER_OUT}:g%:{token.lower()}:0x23b872dd"  # transferFrom
        with self.store.sessions() as s:
            found = s.scalars(
                select(m.TxIntent.id).where(
                    m.TxIntent.idempotency_key.like(pattern),
                    m.TxIntent.status == "confirmed",
                    m.TxIntent.receipt_status == 1,
                )
            ).first()
        return found is not None

    def _mark(self, move_id: int, step: str, point: str) -> None:
        if self.hook is not None:
            self.hook(move_id, step, point)

    # ------------------------------------------------------------------ the states

    def _await_approval(self, move_id: int, now: float) -> bool:
        status = self.approval(move_id, now)
        if status.may_execute:
            self._update(move_id, state=TRANSFER_OUT, error=None)
            return True
        if status in (ApprovalStatus.REJECTED, ApprovalStatus.EXPIRED):
            final = REJECTED if status is ApprovalStatus.REJECTED else EXPIRED
            self._update(move_id, state=final, finished_at=m.utcnow())
            return False
        self._update(move_id, next_try_at=_utc(now + self.poll_interval_s))
        return False

    def _transfer_out(self, move_id: int, now: float) -> bool:
        row = self._row(move_id)
        sender = self._sender(row, TRANSFER_OUT)
        route = row.route
        if route is None:  # choose (fallback on quote failures) and persist BEFORE sending
            skipped: list[list[str]] = []
            for candidate in self.config.routes_between(Asset(row.asset), row.source, row.dest):
                try:
                    self._adapter(row, candidate.value, sender).quote(row.amount_source)
                except RouteError as err:
                    skipped.append([candidate.value, str(err)])
                    continue
                route = candidate.value
                break
            if route is None:
                why = "; ".join(f"{r}: {w}" for r, w in skipped) or "none configured"
                raise RouteError(f"no route for {row.asset} {row.source}->{row.dest}: {why}")
            self._update(move_id, route=route, routes_skipped=skipped)
            log.info("move.route", move=move_id, route=route, skipped=skipped)
        holder = to_checksum_address(row.source_holder or self.keeper)  # fixed at creation
        token = self._token(row.source, row.asset)
        if holder != self.keeper and not self._pulled(row, token.address):
            # pull from the inventory holder, once a route is chosen (and only once: a pull
            # confirmed under an earlier `gen` is not repeated when a later send failed)
            call = token.functions.transferFrom(holder, self.keeper, row.amount_source)
            send_call(
                sender, self.w3s[row.source], token.address, call, "transferFrom", error=StepFailed
            )
        self._mark(move_id, TRANSFER_OUT, "before_initiate")
        handle = self._adapter(row, route, sender).initiate(row.amount_source, self.keeper)
        self._mark(move_id, TRANSFER_OUT, "sent")
        self._update(
            move_id,
            state=CROSS,
            handle_tx="0x" + handle.tx_hash.hex(),
            handle_log_index=handle.log_index,
            handle_message="0x" + handle.message.hex(),
            handle_ref=handle.ref or None,
            amount_sent=handle.amount or row.amount_source,
            error=None,
        )
        return True

    def _cross(self, move_id: int, now: float) -> bool:
        row = self._row(move_id)
        assert row.route is not None
        status = self._adapter(row, row.route, self._sender(row, CROSS)).status(self._handle(row))
        if status is RouteStatus.PENDING_ATTESTATION:
            self._update(move_id, next_try_at=_utc(now + self.poll_interval_s))
            return False
        if status is RouteStatus.FAILED:
            self._update(
                move_id, state=FAILED, error="route reported FAILED", finished_at=m.utcnow()
            )
            return False
        self._update(move_id, state=TRANSFER_IN, error=None)
        return True

    def _transfer_in(self, move_id: int, now: float) -> bool:
        row = self._row(move_id)
        assert row.route is not None
        adapter = self._adapter(row, row.route, self._sender(row, TRANSFER_IN))
        handle = self._handle(row)
        self._mark(move_id, TRANSFER_IN, "before_finalize")
        result = adapter.finalize(handle)
        self._mark(move_id, TRANSFER_IN, "finalized")
        if result.tx_hash is not None:
            self._update(move_id, finalize_tx="0x" + result.tx_hash.hex())
        received = self._received(adapter, row, handle)
        if received is None:  # CEX withdrawal still processing
            status = adapter.status(handle)
            if status is RouteStatus.FAILED:
                self._update(
                    move_id, state=FAILED, error="withdrawal failed", finished_at=m.utcnow()
                )
                return False
            self._update(move_id, next_try_at=_utc(now + self.poll_interval_s))
            return False
        self._update(move_id, state=INVEST, amount_received=received, error=None)
        return True

    def _received(self, adapter: Any, row: m.CrosschainMove, handle: RouteHandle) -> int | None:
        """What arrived at the keeper on the destination, destination base units."""
        if row.route == RouteName.CCTP.value:
            attested = adapter.attestations.fetch(handle)
            if attested is None:
                return None
            body = BurnBody.decode(CctpMessage.decode(attested.message).body)
            return body.amount - body.fee_executed
        if row.route == RouteName.USDT0.value:
            from keepers.crosschain.usdt0 import find_delivery

            found = find_delivery(adapter.dest, bytes.fromhex(handle.ref.removeprefix("0x")))
            return None if found is None else int(found["amount"])
        payout = adapter.payout(handle)
        return None if payout is None else int(payout[0])

    def _invest(self, move_id: int, now: float) -> bool:
        row = self._row(move_id)
        holder = to_checksum_address(row.dest_holder or self.keeper)  # fixed at creation
        tx = None
        if holder != self.keeper and row.amount_received:
            sender = self._sender(row, INVEST)
            token = self._token(row.dest, row.asset)
            call = token.functions.transfer(holder, int(row.amount_received))
            receipt = send_call(
                sender, self.w3s[row.dest], token.address, call, "invest transfer", error=StepFailed
            )
            tx = "0x" + bytes(receipt["transactionHash"]).hex()
        self._update(move_id, state=DONE, invest_tx=tx, error=None, finished_at=m.utcnow())
        log.info("move.done", move=move_id, received=row.amount_received)
        return False
