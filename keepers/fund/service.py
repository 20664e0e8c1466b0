"""The fund's service layer: what the command line (keepers.fund.cli) and the web console
(keepers.console) both do with a plan, in one place that neither face owns. Each face imports
this module and never the other face (tests/offchain/test_import_graph.py holds it).

Every function takes the faces' shared context (``ctx``: keepers.cli_base.Ctx, or a context
sharing a running keeper's bot and store): ``ctx.records()`` (the store's plans), and
``ctx.bot_or_offline()`` (the fund bot, or None when the node does not answer).

- :func:`record_signature`: the one intake of a signature made elsewhere;
- :func:`approval_view`: who signed what and whether it counts now (`keeper review`), and
  :func:`approval_views` for a queue of plans;
- :func:`optional_bot`: the fund bot when a deployment is configured and its node answers;
- :func:`propose_manual`: a manual rebalance stored as a proposed plan, under the fund's lease;
- the fund's status beside the chain's: :func:`fleet_view` (who runs, who leads) and
  :func:`carried_flow` (`keeper status` and the console's fund page).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from keepers.core.errors import DomainError


def utc(ts: int | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(int(ts), dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def record_signature(ctx: Any, ref: str, signature: str, now: int, note: str) -> dict[str, Any]:
    """The one intake of a signature made elsewhere (`keeper approve --signature` and the web
    console's "Sign with your wallet"): recovered over the recomputed plan hash and checked
    against the stored admins by PlanStore.record_signature; a contract signer (the admin
    Safe's own Safe message, or a nested Safe owner) is checked with ERC-1271 on chain, as the
    executor checks it. DomainError names why a signature is refused (nothing recorded)."""
    from keepers.fund.planning.plan_approval import contract_signature, erc1271_checker

    checked: dict[str, Any] = {}
    if contract_signature(signature) is not None:
        bot = optional_bot(ctx)
        if bot is not None and bot.contracts.executor is not None:
            safe, _ = bot.approvals.admin_safe()
            checked = {"erc1271": erc1271_checker(bot.w3), "safe": safe}
    result: dict[str, Any] = ctx.records().plans.record_signature(
        ref, signature, now, note, **checked
    )
    return result


def read_fund(bot: Any) -> tuple[Any, str | None]:
    """The fund bot's reading (keepers.fund.reader), or (None, why) when the lens's own read
    reverts or answers what cannot be decoded at this block: the fund state is then not read,
    and `keeper status` and the console's fund page show the rest. The node's failure
    propagates (the command's offline path says it)."""
    from web3.exceptions import BadFunctionCallOutput, ContractLogicError

    try:
        return bot.reader.read(), None
    except ContractLogicError as err:
        return None, f"FundLens.fundState: reverted ({str(err)[:160]})"
    except BadFunctionCallOutput as err:
        return None, f"FundLens.fundState: not decoded ({str(err)[:160]})"


def optional_bot(ctx: Any) -> Any:
    """The fund bot when this environment configures a deployment whose node answers, else
    None, and never an exit: for what only adds to a command that works from the store alone
    (an approver's machine with KEEPER_DB_URL and nothing else)."""
    from pathlib import Path

    from keepers.fund.settings import FundConfigError, load_fund_config

    if ctx.has_bot():  # built already (a running keeper's, shared with its console)
        return ctx.bot_or_offline()

    try:
        cfg = load_fund_config()
    except FundConfigError:
        return None
    if not Path(cfg.keeper.deployment).exists():
        return None
    return ctx.bot_or_offline()


def contract_checks(ctx: Any, approving: list[Any]) -> dict[str, Any]:
    """For contract signatures among ``approving`` (ERC-1271: the admin Safe's own approval, a
    Safe that is an owner): the on-chain check, the Safe and its threshold, when the node
    answers (without it they show as not checked)."""
    from keepers.fund.planning.plan_approval import contract_signature, erc1271_checker

    if not any(r.signature and contract_signature(r.signature) for r in approving):
        return {}
    bot = optional_bot(ctx)
    if bot is None or bot.contracts.executor is None:
        return {}
    got = admin_safe_or_none(bot)
    if got is None:  # not read now: the contract signatures show as not checked
        return {}
    safe, threshold = got
    return {"safe": safe, "safe_threshold": threshold, "erc1271": erc1271_checker(bot.w3)}


def admin_safe_or_none(bot: Any) -> tuple[str | None, int] | None:
    """The admin Safe behind the executor and its threshold (``approvals.admin_safe``), or
    None when the read fails now (the executor's or the Safe's view reverts, the node): not
    read, for this page or command only."""
    from web3.exceptions import BadFunctionCallOutput, ContractLogicError

    from keepers.core.logging import get_logger  # here: structlog (and rich) cost every `keeper`

    try:
        return bot.approvals.admin_safe()  # type: ignore[no-any-return]
    except (ContractLogicError, BadFunctionCallOutput, OSError) as err:
        get_logger("keepers.fund.service").warning("admin_safe.not_read", error=str(err)[:160])
        return None


def approval_views(ctx: Any, rows: list[Any], now: int) -> list[dict[str, Any]]:
    """:func:`approval_view` of each of ``rows`` (the queue: `keeper review`, the console's
    /approvals), their approvals read in one query instead of one plan read per row."""
    from sqlalchemy import select

    from keepers.fund.records import approval_record
    from keepers.store import models as m

    records: dict[int, list[Any]] = {r.id: [] for r in rows}
    if rows:
        with ctx.records().plans.store.reads() as s:  # a listing: the last commit
            found = s.scalars(
                select(m.Approval)
                .where(m.Approval.plan_id.in_(list(records)))
                .order_by(m.Approval.id)
            )
            for a in found:
                if a.decision in ("approve", "reject"):  # PlanStore.approvals' records
                    records[a.plan_id].append(approval_record(a))
    return [approval_view(ctx, r, now, records=records[r.id]) for r in rows]


def approval_view(
    ctx: Any, row: Any, now: int, *, records: list[Any] | None = None
) -> dict[str, Any]:
    """Who approved what and whether it counts now (`keeper review`): for a frozen plan each
    signature is recovered over the plan hash recomputed from the stored document, checked
    against the stored admins (the Safe owners) and the deadline, as the keeper counts."""
    from keepers.fund.planning.plan_approval import plan_hash, review_signatures
    from keepers.fund.records import signed_plan_of

    plans = ctx.records().plans
    stored = row.payload.get("approval") or {}
    admins = [str(a).lower() for a in stored.get("admins") or []]
    deadline = stored.get("deadline")
    broken: str | None = None
    try:
        plan = signed_plan_of(row)
    except DomainError as err:
        plan, broken = None, str(err)
    if records is None:
        records = plans.approvals(row.ref)
    approving = [r for r in records if r.approve]
    if str(row.status) != "pending_approval" and records:
        # a decided plan: whether each approval counted when the last one was recorded (past
        # the deadline now, every signature would read "expired")
        now = min(now, max(r.at for r in records))
    entries: list[dict[str, Any]] = []
    limit: int | None
    if plan is not None:
        limit = plan.deadline if deadline is None else min(int(deadline), plan.deadline)
        checks = contract_checks(ctx, approving)
        verdicts = (
            review_signatures(
                plan,
                [(r.signature, r.plan_hash) for r in approving],
                admins,
                now,
                deadline,
                **checks,
            )
            if approving
            else []  # nothing to review (the queue's usual row): no hashing
        )
        by_record = dict(zip(map(id, approving), verdicts, strict=True))
    else:
        limit = None if deadline is None else int(deadline)
        by_record = {}
        checks = {}
    seen: set[str] = set()
    for r in records:
        entry: dict[str, Any] = {
            "by": r.admin,
            "decision": "approve" if r.approve else "reject",
            "note": r.note,
            "at": r.at,
            "at_utc": utc(r.at),
            "plan_hash": r.plan_hash or None,
            "signed": bool(r.signature),
        }
        if not r.approve:
            entry |= {"signer": None, "counts": False, "reason": "a rejection (rejects the plan)"}
        elif broken is not None:
            entry |= {"signer": None, "counts": False, "reason": "the frozen plan is unusable"}
        elif plan is not None:
            v = by_record[id(r)]
            entry |= {"signer": v.signer, "counts": v.counts, "reason": v.reason}
        else:  # no executor: named approvals, as the keeper counts them
            who = r.admin.lower()
            reason = (
                f"{r.admin} is not among the stored admins"
                if who not in admins
                else "after the deadline"
                if limit is not None and (r.at > limit or now > limit)
                else f"{r.admin} already counted"
                if who in seen
                else ""
            )
            seen.add(who)
            entry |= {"signer": None, "counts": not reason, "reason": reason}
        entries.append(entry)
    return {
        "plan": row.ref,
        "status": str(row.status),
        "requirement": stored.get("requirement"),
        "required": stored.get("required"),
        "admins": admins,
        # approvals recorded after it do not count (the plan expires unsigned); the signed
        # executor deadline, after which the plan cannot run, is `executor_deadline`
        "approval_deadline": limit,
        "approval_deadline_utc": utc(limit),
        "executor_deadline": None if plan is None else plan.deadline,
        "executor_deadline_utc": None if plan is None else utc(plan.deadline),
        "as_of": now,
        "signed_plan": plan is not None,
        **({"frozen_error": broken} if broken else {}),
        "plan_hash": None if plan is None else "0x" + plan_hash(plan).hex(),
        "counted": counted(entries, checks),
        "approvals": entries,
        "other_deployment": other_deployment_of(ctx, row),
    }


def other_deployment_of(ctx: Any, row: Any) -> str | None:
    """Why ``row`` was made for another deployment than the keeper drives (or None)."""
    from keepers.tx.release import other_deployment

    current = ctx.deployment()
    return other_deployment(row.deployment, current) if current else None


def counted(entries: list[dict[str, Any]], checks: dict[str, Any]) -> int:
    """What the approvals are worth by the executor's rule: distinct counted owners, or the
    admin Safe's threshold when the Safe approved as itself (the larger, never the sum)."""
    owners = sum(1 for e in entries if e["counts"])
    safe = str(checks.get("safe") or "").lower()
    if safe and any(e["counts"] and str(e.get("signer") or "").lower() == safe for e in entries):
        return max(owners - 1, int(checks.get("safe_threshold") or 0))
    return owners


class NothingToRebalance(DomainError, ValueError):
    """A manual rebalance that finds nothing to move (in band, or every move unresolved)."""


@contextmanager
def fund_lease(bot: Any, store: Any, ttl_s: float, replica: str) -> Iterator[Any]:
    """The fund's lease for one decision made outside `keeper run` (keepers.runtime.leases.Lead,
    as `keeper plan` takes it): yields the fence that decision writes under; LeaseLost, naming
    the replica that leads, when a running keeper leads the fund."""
    from keepers.runtime.leases import Lead

    lease = f"fund:{bot.lease_scope}"
    with Lead(store, lease, ttl_s=ttl_s, replica=replica) as leases:
        yield leases.fence_for(lease)


def propose_manual(bot: Any, now: int, by: str, reason: str, *, fence: Any) -> str:
    """A manual rebalance (the console's "Propose"), stored as a *proposed* plan with the
    manual trigger `keeper plan` uses, planned against the fund as it will be once the plans in
    flight land, and written under the fund's lease (``fence``: the running keeper's, or
    :func:`fund_lease`'s; LeaseLost when this process does not lead). The keeper takes it
    through the risk check, freeze, approvals and simulation on its next tick. Returns the
    plan's id; NothingToRebalance or PlanPendingError (a pending plan covers these actions)
    say why nothing was stored."""
    from keepers.fund.fees_paid import add_holders
    from keepers.fund.planning import triggers as trig
    from keepers.fund.planning.inflight import project
    from keepers.fund.planning.report import plan_report
    from keepers.fund.records import PROPOSED, PlanPendingError

    reading = bot.reader.read()
    flights = bot.plans.in_flight()
    trigger = trig.manual_trigger(by, reason, force_targets=True)
    p = bot.sizing.make_sized_plan(reading, [trigger], now, flights)
    if not p.actions:
        detail = "; ".join(f"{u.reason}: {u.detail}" for u in p.unresolved) or "in band"
        flying = next((f for f in flights if f.actions), None)
        if flying is not None:  # the fund as it will be once that plan lands needs nothing
            raise PlanPendingError(
                f"plan {flying.ref} ({flying.status}) already covers these actions: nothing "
                f"to add to what is in flight ({detail})"
            )
        raise NothingToRebalance(f"nothing to rebalance: {detail}")
    report = add_holders(plan_report(project(reading.state, flights), p), bot, reading)
    payload = {"report": report, "block": reading.block, "proposed_by": f"console:{by}"}
    covering = bot.plans.save_decided(p, PROPOSED, payload, fence=fence)
    if covering is not None:
        raise PlanPendingError(
            f"plan {covering.ref} ({covering.status}) already covers these actions"
        )
    return str(p.id)


def fleet_view(ctx: Any) -> dict[str, Any]:
    """Who runs and who leads what (keepers.runtime.leases): the replicas seen within their
    lease's TTL, and each bot's lease."""
    from keepers.runtime.leases import fleet

    k = ctx.config().keeper
    return fleet(ctx.store(), k.lease_ttl_s, k.fleet_forget_s)


def carried_flow(ctx: Any) -> list[dict[str, Any]]:
    """The carried flow (slices left by venue depth): `keeper status` and the fund page."""
    return [
        {
            "tier": f"L{c.tier + 1}",
            "amount": int(c.amount),
            "next_at": int(c.next_at.timestamp()),
            "slices": c.slices,
            "plan": c.plan_ref,
            "reason": c.reason,
        }
        for c in ctx.records().carry.active(view=True)
    ]
