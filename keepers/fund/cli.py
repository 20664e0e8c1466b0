"""The fund slice's commands of ``keeper``: ``plan|approve|reject|review|status|history|rollback``.

They are registered on the root group (keepers.cli.main) when this module is imported, which
keepers.cli does at its end; the root group holds the shared context (``Ctx``: the settings, the
fund bot, ``--json``/``--now``), the output and exit helpers, and ``run``.

Configuration comes from the environment (KEEPER_* and seed 001 section 8.1's names, see
keepers.fund.settings); a bad value exits with status 2 and names the variable. Unknown
plans and other bad input exit with status 1. ``keeper status`` adds the automation side when
a scheduler is configured.
"""

from __future__ import annotations

import json
from typing import Any

import click

from keepers.cli import Ctx, accept_root_options_after, exit_code, fail, main
from keepers.core.errors import EXIT_UNAVAILABLE, DomainError, KeeperError


def _find(ctx: Ctx, ref: str) -> Any:
    row = ctx.records().plans.find(ref)
    if row is None:
        fail(f"no plan {ref!r} (see `keeper history`)")
    return row


def _outcome(o: Any) -> dict[str, Any]:
    return {
        "plan": o.plan_id,
        "status": o.status,
        "detail": o.detail,
        "seconds": round(o.seconds, 3),
        "results": [
            {
                "type": r.action.type.value,
                "amount": str(r.action.amount),
                "success": r.success,
                "tx_hash": r.tx_hash,
                "error": r.error,
            }
            for r in o.results
        ],
    }


def _outcome_text(o: Any) -> str:
    lines = [f"plan {o.plan_id or '-'}: {o.status}" + (f" ({o.detail})" if o.detail else "")]
    for r in o.results:
        mark = "ok " if r.success else "ERR"
        lines.append(
            f"  {mark} {r.action.type.value} {r.action.amount} {r.tx_hash or r.error or ''}"
        )
    return "\n".join(lines)


@main.command()
@click.option("--dry-run", is_flag=True, help="plan and risk-check only; nothing stored or sent")
@click.option(
    "--job",
    type=click.Choice(["manual", "daily", "weekly", "threshold", "liquidity"]),
    default="manual",
    show_default=True,
)
@click.option("--by", "by", default="operator", help="who asks (manual plans)")
@click.option("--reason", default="operator request")
@click.pass_obj
def plan(ctx: Ctx, dry_run: bool, job: str, by: str, reason: str) -> None:
    """Generate a plan now (then risk check, approval, simulate, execute, verify)."""
    bot = ctx.bot()
    if job == "manual":
        try:
            o = bot.manual(ctx.time(), by, reason, dry_run=dry_run)
        except KeeperError as err:  # a pending plan already covers these actions (exit 1)
            fail(str(err), exit_code(err))
    else:
        o = bot.check(job, ctx.time(), dry_run=dry_run)
    ctx.out(_outcome(o), lambda: _outcome_text(o))


def _decide(ctx: Ctx, ref: str, by: str, approve: bool, note: str) -> None:
    row = _find(ctx, ref)
    # records the decision only: the running keeper executes on its next tick, under the
    # admins and approvals it stored with the plan (never this process's settings)
    try:
        d = ctx.records().plans.record_decision(row.ref, by, ctx.time(), approve=approve, note=note)
    except (ValueError, DomainError) as err:  # a signer setting is a ConfigError (2)
        fail(str(err), exit_code(err))
    ctx.out(
        d,
        lambda: (
            f"plan {d['plan']}: {d['recorded']} by {d['by']} recorded "
            f"({d['approvals']} of {d['required']}); the running keeper executes it"
        ),
    )


def _decision_command(name: str, approve: bool, admin: str, doc: str) -> click.Command:
    """`keeper approve` and `keeper reject`: the same shell around `_decide`."""

    @main.command(name=name, help=doc)
    @click.argument("plan_ref")
    @click.option("--by", required=True, help=f"the {admin} admin")
    @click.option("--note", default="")
    @click.pass_obj
    def decide(ctx: Ctx, plan_ref: str, by: str, note: str) -> None:
        _decide(ctx, plan_ref, by, approve, note)

    return decide


approve = _decision_command("approve", True, "approving", "Approve a plan waiting for approval.")
reject = _decision_command("reject", False, "rejecting", "Reject a plan waiting for approval.")


@main.command()
@click.argument("plan_ref")
@click.pass_obj
def review(ctx: Ctx, plan_ref: str) -> None:
    """A plan's report: triggers, actions, risk, approvals, simulation, verification."""
    from keepers.fund.planning.report import render_text

    row = _find(ctx, plan_ref)
    data = {
        "plan": row.ref,
        "status": row.status,
        "trigger": row.trigger,
        "approvals": [
            {"by": a.approver, "decision": a.decision, "at": a.decided_at} for a in row.approvals
        ],
        **{k: v for k, v in row.payload.items() if k != "plan"},
    }

    def text() -> str:
        head = f"plan {row.ref}  status {row.status}  trigger {row.trigger}"
        body = render_text(row.payload["report"]) if row.payload.get("report") else ""
        extra = [
            f"{k}: {json.dumps(row.payload[k], default=str)}"
            for k in ("risk", "approval", "simulation", "verification")
            if k in row.payload
        ]
        appr = [f"  {a['by']} {a['decision']} at {a['at']}" for a in data["approvals"]]
        return "\n".join([head, body, *extra, *(["approvals:", *appr] if appr else [])])

    ctx.out(data, text)


@main.command()
@click.pass_obj
def status(ctx: Ctx) -> None:
    """The fund's tiers now (one eth_call); with a scheduler configured, the automation
    side too: runs due, stuck tasks and funders (KEEPER_SUPERVISOR_*)."""
    from keepers.automation.status import automation_status
    from keepers.fund.planning.metrics import tier_metrics
    from keepers.fund.planning.report import whole
    from keepers.runtime.runner import RunConfigError

    bot = ctx.bot_or_offline()
    if bot is None:  # the node does not answer: what the store knows, then exit 3
        _status_offline(ctx)
    r = bot.read()
    st = r.state
    try:
        auto = automation_status(ctx.time())
    except RunConfigError as err:
        fail(str(err), exit_code(err))
    rows: list[dict[str, Any]] = [
        {
            "tier": f"L{m.tier + 1}",
            "value": m.value,
            "ratio_bps": m.ratio_bps,
            "target_bps": m.target_bps,
            "band": [m.min_bps, m.max_bps],
            "within": m.within_bounds,
        }
        for m in tier_metrics(st)
    ]
    carry = _carry(ctx)
    data = {
        "block": r.block,
        "total_assets": st.total_assets,
        "pending_redemptions": st.pending_redemptions,
        "paused": st.paused,
        "tiers": rows,
        "carry": carry,
        **({"automation": auto} if auto is not None else {}),
    }

    def text() -> str:
        d = st.base_decimals
        lines = [
            f"block {r.block}  total {whole(st.total_assets, d)}  pending redemptions "
            f"{whole(st.pending_redemptions, d)}{'  PAUSED' if st.paused else ''}",
            f"{'tier':<5}{'value':>20}{'ratio':>9}{'target':>9}{'band':>14}  ok",
        ]
        for x in rows:
            lines.append(
                f"{x['tier']:<5}{whole(x['value'], d):>20}{x['ratio_bps'] / 100:>8.2f}%"
                f"{x['target_bps'] / 100:>8.2f}%{x['band'][0] / 100:>6.1f}-{x['band'][1] / 100:.1f}%"
                f"  {'yes' if x['within'] else 'NO'}"
            )
        if carry:
            lines.append("carried flow (slice schedule, left by venue depth):")
            for c in carry:
                lines.append(
                    f"  {c['tier']} {whole(c['amount'], d):>18}  next slice at {c['next_at']}  "
                    f"slices so far {c['slices']}  plan {c['plan']}"
                )
        else:
            lines.append("carried flow: none")
        if auto is not None:
            lines.append(f"automation: scheduler {auto['scheduler']}  due runs {auto['due_runs']}")
            if "stuck" in auto:
                stuck = ", ".join(f"{x['task']} ({x['reason']})" for x in auto["stuck"])
                lines.append(f"  tasks {auto['tasks']}  stuck {len(auto['stuck'])} {stuck}")
                for f in auto["funders"]:
                    lines.append(
                        f"  funder {f['funder']}  balance {whole(f['balance_wei'], 18)}  "
                        f"runway {_runway(f['runway_intervals'])} intervals"
                    )
        return "\n".join(lines)

    ctx.out(data, text)


def _carry(ctx: Ctx) -> list[dict[str, Any]]:
    return [
        {
            "tier": f"L{c.tier + 1}",
            "amount": int(c.amount),
            "next_at": int(c.next_at.timestamp()),
            "slices": c.slices,
            "plan": c.plan_ref,
            "reason": c.reason,
        }
        for c in ctx.records().carry.active()
    ]


# what `keeper status` reads from the chain, missing while the node does not answer
CHAIN_FIELDS = ("block", "total_assets", "pending_redemptions", "paused", "tiers", "automation")


def _status_offline(ctx: Ctx) -> None:
    """``keeper status`` with the node down: the store's part (the carried flow, the last
    plan), the chain's fields named as unavailable, and exit 3 (EXIT_UNAVAILABLE) so that a
    script or a probe sees the status is partial."""
    carry = _carry(ctx)
    last = ctx.records().plans.history(1)
    plan = (
        {"plan": last[0].ref, "status": last[0].status, "created_at": last[0].created_at}
        if last
        else None
    )
    data = {
        "chain": "unavailable",
        "reason": ctx.offline,
        "unavailable": list(CHAIN_FIELDS),
        "last_plan": plan,
        "carry": carry,
    }

    def text() -> str:
        lines = [
            f"chain data unavailable ({ctx.offline})",
            f"  missing: {', '.join(CHAIN_FIELDS)}",
            "from the store:",
            f"  last plan: {plan['plan']} {plan['status']} at {plan['created_at']}"
            if plan
            else "  last plan: none",
        ]
        lines += [
            f"  carried {c['tier']} {c['amount']} base units  next slice at {c['next_at']}  "
            f"plan {c['plan']}"
            for c in carry
        ] or ["  carried flow: none"]
        return "\n".join(lines)

    ctx.out(data, text)
    fail(f"{ctx.offline}: status shows the store only", EXIT_UNAVAILABLE)


def _runway(n: int | None) -> str:
    if n is None:
        return "?"
    return "unlimited" if n >= 2**255 else str(n)


@main.command()
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.pass_obj
def history(ctx: Ctx, limit: int) -> None:
    """Recent plans, newest first."""
    rows = ctx.records().plans.history(limit)
    data = [
        {
            "plan": r.ref,
            "status": r.status,
            "trigger": r.trigger,
            "created_at": r.created_at,
            "actions": len(r.payload["plan"]["actions"]),
        }
        for r in rows
    ]
    ctx.out(
        data,
        lambda: (
            "\n".join(
                f"{d['plan']}  {d['status']:<17} {d['trigger'] or '-':<22} {d['actions']} actions  "
                f"{d['created_at']}"
                for d in data
            )
            or "no plans yet"
        ),
    )


@main.command()
@click.argument("plan_ref")
@click.option("--by", required=True, help="who asks for the rollback")
@click.pass_obj
def rollback(ctx: Ctx, plan_ref: str, by: str) -> None:
    """Plan the reverse of an executed plan; it is approved like any plan."""
    row = _find(ctx, plan_ref)
    try:
        o = ctx.bot().rollback(row.ref, ctx.time(), by)
    except ValueError as err:
        fail(str(err))
    ctx.out(_outcome(o), lambda: _outcome_text(o))


accept_root_options_after(main)  # idempotent; here too for whichever module is imported first
