"""The fund slice's commands of ``keeper``: ``plan|approve|reject|review|status|history|rollback``.

They are registered on the root group (keepers.cli_base.main) when this module is imported,
which the composition root keepers.cli does at its end; keepers.cli_base holds the shared
context (``Ctx``: the settings, the fund bot, ``--json``/``--now``) and the output and exit
helpers, keepers.cli adds ``run``. This module never imports keepers.cli.

Configuration comes from the environment (KEEPER_* and seed 001 section 8.1's names, see
keepers.fund.settings); a bad value exits with status 2 and names the variable. Unknown
plans and other bad input exit with status 1. ``keeper status`` adds the sections the
composition root registers in keepers.cli_base.STATUS_SECTIONS (the automation side, when a
scheduler is configured): this slice imports no other.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from contextlib import nullcontext
from typing import Any

import click

from keepers.cli_base import (
    STATUS_SECTIONS,
    Ctx,
    accept_root_options_after,
    exit_code,
    fail,
    main,
    read_only_command,
)
from keepers.core.errors import EXIT_UNAVAILABLE, ConfigError, DomainError, KeeperError
from keepers.fund.planning.state import CLOSED, CLOSING, PHASES
from keepers.fund.service import (
    approval_view,
    approval_views,
    carried_flow,
    fleet_view,
    optional_bot,
    other_deployment_of,
    read_fund,
    record_signature,
)


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
        **({"report": o.report} if o.report is not None else {}),
    }


def _outcome_text(o: Any) -> str:
    from keepers.fund.planning.report import render_text

    lines = [f"plan {o.plan_id or '-'}: {o.status}" + (f" ({o.detail})" if o.detail else "")]
    for r in o.results:
        mark = "ok " if r.success else "ERR"
        lines.append(
            f"  {mark} {r.action.type.value} {r.action.amount} {r.tx_hash or r.error or ''}"
        )
    if o.report is not None:  # a dry run's report: the tiers, the actions, fees, in-kind exit
        lines.append(render_text(o.report))
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
    # a dry run decides nothing; a plan is made under the fund's lease (exit 1 naming the
    # replica when a running keeper leads the fund)
    with nullcontext() if dry_run else ctx.lead(bot):
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


def _utc(ts: int | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(int(ts), dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _what_is_signed(ref: str, plan: Any, frozen: dict[str, Any]) -> dict[str, Any]:
    """What an approver signs, for people: the fields of the EIP-712 message and each action's
    function (display only) and calldata hash (what the executor checks)."""
    from keepers.fund.planning.plan_approval import is_pool_leg, plan_hash

    functions = list(frozen.get("functions") or [])
    return {
        "plan": ref,
        "plan_id": "0x" + plan.plan_id.hex(),
        "chain_id": plan.chain_id,
        "executor": plan.executor,
        "controller": plan.controller,
        # the message's `deadline`: the executor refuses the plan after it (not the approval
        # deadline `keeper review` shows, after which approvals stop counting)
        "executor_deadline": plan.deadline,
        "executor_deadline_utc": _utc(plan.deadline),
        "actions": [
            {
                "index": i,
                "function": functions[i] if i < len(functions) else "?",
                "calldata_hash": "0x" + h.hex(),
                "bytes": len(plan.actions[i]),
                # a pool leg: minOut set at send time from its simulated fill, never more than
                # this many bps under the oracle when it runs (the executor refuses it)
                "max_slippage_bps": (
                    plan.max_slippage_bps[i] if is_pool_leg(plan.actions[i]) else None
                ),
            }
            for i, h in enumerate(plan.action_hashes())
        ],
        "plan_hash": "0x" + plan_hash(plan).hex(),
    }


def _signed_text(w: dict[str, Any]) -> str:
    lines = [
        f'signing plan {w["plan"]} (EIP-712 "Ballast PlanExecutor" v1)',
        f"  chain id    {w['chain_id']}",
        f"  executor    {w['executor']}",
        f"  controller  {w['controller']}",
        f"  executor deadline {w['executor_deadline_utc']} ({w['executor_deadline']}): "
        "the executor refuses the plan after it",
        f"  plan id     {w['plan_id']}",
        f"  actions     {len(w['actions'])}, in the order the executor runs them:",
        *(
            f"    {a['index']}. {a['function']:<28} calldata keccak {a['calldata_hash']}"
            + (
                f"\n       pool leg: minOut from its fill when sent, at most "
                f"{a['max_slippage_bps']} bps under the oracle then"
                if a.get("max_slippage_bps") is not None
                else ""
            )
            for a in w["actions"]
        ),
        f"  plan hash   {w['plan_hash']}",
    ]
    return "\n".join(lines)


def _ask_passphrase(alias: str) -> str:
    return str(click.prompt(f"passphrase of ape account {alias!r}", hide_input=True, err=True))


@main.command(name="approve")
@click.argument("plan_ref")
@click.option(
    "--account",
    "alias",
    default=None,
    help="sign the plan with this ape account (keystore alias in APE_DATA_FOLDER or ~/.ape; "
    "passphrase from APE_ACCOUNTS_<alias>_PASSPHRASE or a hidden prompt)",
)
@click.option(
    "--signature",
    default=None,
    help="record a signature made elsewhere over `keeper review PLAN --typed-data`: 0x, 65 "
    "bytes (a hardware wallet, cast wallet sign --data, a Safe owner's wallet), or a contract "
    "signer's address followed by its signature (the admin Safe's own Safe message from "
    "Safe{Wallet}, a Safe that is an owner), checked on chain with ERC-1271",
)
@click.option(
    "--aws-kms",
    "kms_key",
    default=None,
    help="sign the plan with this AWS KMS key (key id, ARN or alias/NAME; spec ECC_SECG_P256K1): "
    "the typed data's EIP-712 digest signed in KMS (MessageType DIGEST); region from AWS_REGION "
    "(or boto3's AWS_DEFAULT_REGION), "
    "a VPC or stand-in endpoint from AWS_ENDPOINT_URL_KMS, credentials from boto3's chain",
)
@click.option(
    "--by", default=None, help="plans without a PlanExecutor only: the approving admin's name"
)
@click.option("--note", default="")
@click.pass_obj
def approve(
    ctx: Ctx,
    plan_ref: str,
    alias: str | None,
    signature: str | None,
    kms_key: str | None,
    by: str | None,
    note: str,
) -> None:
    """Approve a plan waiting for approval: sign it (--account) or record a signature made
    elsewhere (--signature). Records only: no keeper key, no transaction (a contract signature
    is checked on chain with ERC-1271, so the node must answer for it)."""
    if sum(x is not None for x in (alias, signature, kms_key, by)) != 1:
        raise click.UsageError(
            "give exactly one of --account ALIAS, --aws-kms KEY, --signature 0x..., --by NAME"
        )
    row = _find(ctx, plan_ref)
    plans = ctx.records().plans
    try:
        plan = plans.signed_plan(row.ref)
    except DomainError as err:
        fail(str(err), exit_code(err))
    if by is not None:
        if plan is not None:
            fail(
                f"plan {row.ref} is frozen for the PlanExecutor: only signed approvals count; "
                f"sign with --account ALIAS (an ape account), or sign `keeper review {row.ref} "
                "--typed-data` elsewhere and record it with --signature 0x... (--by is for "
                "deployments without a PlanExecutor)"
            )
        _decide(ctx, plan_ref, by, True, note)
        return
    if plan is None:
        fail(
            f"plan {row.ref} has no frozen plan to sign (a deployment without a PlanExecutor): "
            "approve it with --by NAME"
        )
    now = ctx.time()
    try:
        plans.open_for_decision(row.ref, now)  # before asking for a passphrase
    except DomainError as err:
        fail(str(err), exit_code(err))
    what = _what_is_signed(row.ref, plan, row.payload["frozen"])
    if not ctx.as_json:
        click.echo(_signed_text(what))
    if alias is not None:
        from keepers.fund.planning.plan_approval import sign_plan
        from keepers.tx.signers import load_keystore_account

        prompt = _ask_passphrase if sys.stdin.isatty() else None
        try:
            account = load_keystore_account(alias, prompt=prompt)
        except KeeperError as err:  # unknown alias, wrong passphrase 1; no passphrase 2
            fail(str(err), exit_code(err))
        signature = "0x" + sign_plan(plan, account.key).hex()
        del account
        note = f"account {alias}" + (f": {note}" if note else "")
    if kms_key is not None:
        from keepers.core.logging import configure_logging
        from keepers.fund.planning.plan_approval import signable
        from keepers.tx.errors import NodeError
        from keepers.tx.kms import AwsKmsSigner

        level = os.environ.get("KEEPER_LOG_LEVEL", "INFO").upper()
        # the key's address logged (signer.aws_kms) on stderr, never into --json's stdout
        configure_logging(True, level if level in ("DEBUG", "WARNING", "ERROR") else "INFO")
        try:
            kms = AwsKmsSigner(
                kms_key,
                region=os.environ.get("AWS_REGION") or None,  # else boto3's own
                setting="--aws-kms",
                region_setting="AWS_REGION",
            )
            signature = "0x" + kms.sign_message(signable(plan)).hex()
        except ConfigError as err:  # no such key, disabled, wrong spec, no credentials: 2
            fail(str(err), exit_code(err))
        except NodeError as err:  # throttled past the retries, refused signature: 1
            fail(str(err), 1)
        note = f"aws-kms {kms.address}" + (f": {note}" if note else "")
    assert signature is not None
    try:
        d = record_signature(ctx, row.ref, signature, now, note)
    except DomainError as err:
        fail(str(err), exit_code(err))
    d = {**d, "signed": what, "signature": signature}
    ctx.out(
        d,
        lambda: (
            f"plan {d['plan']}: approval signed by {d['signer']} recorded "
            f"({d['approvals']} of {d['required']}); the running keeper executes it"
        ),
    )


@main.command(name="reject")
@click.argument("plan_ref")
@click.option(
    "--by", required=True, help="the rejecting admin (an owner's address for a frozen plan)"
)
@click.option("--note", default="")
@click.pass_obj
def reject(ctx: Ctx, plan_ref: str, by: str, note: str) -> None:
    """Reject a plan waiting for approval (unsigned: a rejection cannot move money)."""
    _decide(ctx, plan_ref, by, False, note)


def _approval_text(v: dict[str, Any]) -> str:
    head = (
        f"plan {v['plan']}  {v['status']}  requirement {v['requirement'] or '-'}  "
        f"{v['counted']} of {v['required'] if v['required'] is not None else '?'} counted  "
        f"approval deadline {v['approval_deadline_utc'] or '-'}"
    )
    lines = [head]
    if v.get("other_deployment"):
        lines.append(f"  OTHER DEPLOYMENT: {v['other_deployment']}")
    if v["executor_deadline_utc"]:
        lines.append(
            f"  executor deadline {v['executor_deadline_utc']} (the plan cannot run after it)"
        )
    if v["plan_hash"]:
        lines.append(f"  plan hash now {v['plan_hash']}  (approve: keeper approve --account)")
    elif v.get("frozen_error"):
        lines.append(f"  {v['frozen_error']}")
    else:
        lines.append("  no executor: approvals by name (keeper approve --by)")
    for e in v["approvals"]:
        who = e["signer"] or e["by"]
        mark = "counts" if e["counts"] else f"does not count: {e['reason']}"
        lines.append(f"  {e['decision']:<7} {who}  ({e['note'] or e['by']})  at {e['at_utc']}")
        if e["plan_hash"]:
            lines.append(f"          signed {e['plan_hash']}")
        lines.append(f"          {mark}")
    return "\n".join(lines)


@read_only_command
@main.command()
@click.argument("plan_ref", required=False)
@click.option(
    "--typed-data",
    is_flag=True,
    help="print the plan's EIP-712 typed data (JSON) to sign elsewhere, then record the "
    "signature with `keeper approve PLAN --signature 0x...`",
)
@click.pass_obj
def review(ctx: Ctx, plan_ref: str | None, typed_data: bool) -> None:
    """A plan's report: triggers, actions, risk, approvals (who signed what, and whether it
    counts now), simulation, verification. Without PLAN: every plan waiting for approval."""
    from keepers.fund.planning.report import render_text
    from keepers.fund.records import PENDING_APPROVAL

    now = ctx.time()
    if plan_ref is None:
        if typed_data:
            raise click.UsageError("--typed-data needs a PLAN")
        waiting = ctx.records().plans.with_status(PENDING_APPROVAL, view=True)
        views = approval_views(ctx, waiting, now)
        ctx.out(
            views,
            lambda: "\n".join(_approval_text(v) for v in views) or "no plan waits for approval",
        )
        return
    row = _find(ctx, plan_ref)
    if typed_data:
        from keepers.fund.planning.plan_approval import typed_data_json

        try:
            plan = ctx.records().plans.signed_plan(row.ref)
        except DomainError as err:
            fail(str(err), exit_code(err))
        if plan is None:
            fail(
                f"plan {row.ref} has no frozen plan (a deployment without a PlanExecutor): "
                "nothing to sign; approve it with --by NAME"
            )
        click.echo(json.dumps(typed_data_json(plan), indent=2))
        _safe_message_help(ctx, row.ref, plan)
        return
    view = approval_view(ctx, row, now)
    payload = dict(row.payload)
    if isinstance(payload.get("approval"), dict) and "deadline" in payload["approval"]:
        # the stored approval's deadline is the approval deadline: named so beside the
        # executor's (the frozen plan's `deadline`, signed in the EIP-712 message)
        approval = dict(payload["approval"])
        approval["approval_deadline"] = approval.pop("deadline")
        payload["approval"] = approval
    data = {
        "plan": row.ref,
        "status": row.status,
        "trigger": row.trigger,
        "approvals": view["approvals"],
        "deployment": row.deployment,
        "other_deployment": view["other_deployment"],
        **{k: v for k, v in payload.items() if k != "plan"},
        "signatures": {k: v for k, v in view.items() if k != "approvals"},
    }

    def text() -> str:
        head = f"plan {row.ref}  status {row.status}  trigger {row.trigger}"
        body = render_text(row.payload["report"]) if row.payload.get("report") else ""
        extra = [
            f"{k}: {json.dumps(payload[k], default=str)}"
            for k in ("risk", "approval", "simulation", "verification")
            if k in payload
        ]
        appr = [f"  {a['by']} {a['decision']} at {a['at']}" for a in data["approvals"]]
        return "\n".join(
            [head, body, *extra, *(["approvals:", *appr] if appr else []), _approval_text(view)]
        )

    ctx.out(data, text)


def _safe_message_help(ctx: Ctx, ref: str, plan: Any) -> None:
    """On stderr (stdout stays the typed data, for piping): how the admin Safe approves the
    plan as itself in Safe{Wallet}, with the hashes its owners will see."""
    from keepers.fund.planning.plan_approval import plan_hash, safe_message_hash

    digest = plan_hash(plan)
    bot = optional_bot(ctx)
    safe = (
        bot.approvals.admin_safe()[0]
        if bot is not None and bot.contracts.executor is not None
        else None
    )
    lines = [
        f"plan hash (EIP-712) 0x{digest.hex()}",
        "to approve as the admin Safe in Safe{Wallet} (a Safe message, signed by its threshold "
        "of owners): sign the typed data above as a message from the Safe;",
    ]
    if safe is not None:
        lines.append(
            f"  the Safe {safe} shows the SafeMessage hash "
            f"0x{safe_message_hash(plan.chain_id, safe, digest).hex()}"
        )
    lines.append(
        f"  once its owners have signed, record it: keeper approve {ref} --signature "
        "0x<the Safe's address: 40 hex digits><the signature Safe{Wallet} shows for the "
        "message, without its 0x> (it counts as the Safe's threshold of owners)"
    )
    click.echo("\n".join(lines), err=True)


@read_only_command
@main.command()
@click.pass_obj
def status(ctx: Ctx) -> None:
    """The fund's tiers now (one eth_call); with a scheduler configured, the automation
    side too: runs due, stuck tasks and funders (KEEPER_SUPERVISOR_*)."""
    # the automation part: a section of keepers.cli_base.STATUS_SECTIONS (keepers.cli adds it)
    from keepers.core.amounts import format_amount
    from keepers.fund.holders import holders_lines, holders_not_read, holders_view
    from keepers.fund.planning.metrics import tier_metrics

    bot = ctx.bot_or_offline()
    if bot is None:  # the node does not answer: what the store knows, then exit 3
        _status_offline(ctx)
    # the reader alone, as the console: a status raises no alert (its output stays one JSON
    # document) and records no alert key a running keeper on the same store would then skip
    r, why = read_fund(bot)
    sections = [(sec, d) for sec in STATUS_SECTIONS if (d := sec.read(ctx.time())) is not None]
    carry = carried_flow(ctx)
    replicas = fleet_view(ctx)
    if r is None:  # the lens's read reverted: what else is known, and that it was not read
        data: dict[str, Any] = {
            "block": None,
            "total_assets": None,
            "pending_redemptions": None,
            "paused": None,
            "phase": None,
            "tiers": None,
            "carry": carry,
            "fees": None,
            "valuation_holds": None,
            "in_kind": None,
            "not_read": [f"fund state ({why})"],
            **{sec.key: d for sec, d in sections},
            "fleet": replicas,
        }

        def unread() -> str:
            lines = [f"fund state: not read ({why})"]
            lines += _carry_lines(carry, None)
            for sec, d in sections:
                lines += sec.lines(d)
            return "\n".join(lines + _fleet_lines(replicas))

        ctx.out(data, unread)
        return
    st = r.state
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
    holders = holders_view(bot, r)
    from keepers.fund.fees_paid import fees_paid_lines, fees_paid_not_read, fees_paid_view
    from keepers.fund.timelock import timelock_lines, timelock_not_read, timelock_view

    timelock = timelock_view(bot, r.block, st.timestamp)  # what the admin has queued (issue 67)
    # what the fee recipient was paid to date (issue 67); nothing on contracts without fees
    fees_absent = "fees" in (holders.get("not_in_these_contracts") or ())
    fees_paid = None if fees_absent else fees_paid_view(bot, r)
    from keepers.fund.horizon import exit_horizon_lines, exit_horizon_not_read, exit_horizon_view

    horizon = exit_horizon_view(bot, r)  # what the fund pays within 0/1/7/30 days (issue 67)
    not_read = [
        *r.not_read,
        *holders_not_read(holders),
        *fees_paid_not_read(fees_paid),
        *timelock_not_read(timelock),
        *exit_horizon_not_read(horizon),
    ]
    data = {
        "block": r.block,
        "total_assets": st.total_assets,
        "pending_redemptions": st.pending_redemptions,
        "paused": st.paused,
        "phase": PHASES[st.phase],  # the wind-down's: open, closing, closed (issue 67)
        "tiers": rows,
        "carry": carry,
        **holders,
        "fees_paid": fees_paid,
        "exit_horizon": horizon,
        "timelock": timelock,
        "not_read": not_read,
        **{sec.key: d for sec, d in sections},
        "fleet": replicas,
    }

    def text() -> str:
        d = st.base_decimals
        lines = [
            f"block {r.block}  total {format_amount(st.total_assets, d, places=2)}  "
            f"pending redemptions {format_amount(st.pending_redemptions, d, places=2)}"
            f"{'  PAUSED' if st.paused else ''}"
            f"{'  ' + PHASES[st.phase].upper() if st.phase else ''}",
            *_phase_lines(st.phase),
            f"{'tier':<5}{'value':>20}{'ratio':>9}{'target':>9}{'band':>14}  ok",
        ]
        for x in rows:
            lines.append(
                f"{x['tier']:<5}{format_amount(x['value'], d, places=2):>20}{x['ratio_bps'] / 100:>8.2f}%"
                f"{x['target_bps'] / 100:>8.2f}%{x['band'][0] / 100:>6.1f}-{x['band'][1] / 100:.1f}%"
                f"  {'yes' if x['within'] else 'NO'}"
            )
        lines += _carry_lines(carry, d)
        lines += holders_lines(holders)
        lines += [] if fees_absent else fees_paid_lines(fees_paid)
        lines += exit_horizon_lines(horizon)
        lines += timelock_lines(timelock)
        lines += [f"not read: {x}" for x in not_read]
        for sec, d in sections:
            lines += sec.lines(d)
        return "\n".join(lines + _fleet_lines(replicas))

    ctx.out(data, text)


def _carry_lines(carry: list[dict[str, Any]], decimals: int | None) -> list[str]:
    """The carried flow (slice schedule, left by venue depth) as status lines (amounts in base
    units when the base token's decimals are not known: the fund state not read)."""
    from keepers.core.amounts import format_amount

    if not carry:
        return ["carried flow: none"]
    lines = ["carried flow (slice schedule, left by venue depth):"]
    for c in carry:
        amount = (
            str(c["amount"]) if decimals is None else format_amount(c["amount"], decimals, places=2)
        )
        lines.append(
            f"  {c['tier']} {amount:>18}  next slice at {c['next_at']}  "
            f"slices so far {c['slices']}  plan {c['plan']}"
        )
    return lines


def age(seconds: float) -> str:
    """A duration as people read it: 42s, 7m 5s, 3h 12m, 2d 4h."""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def _fleet_lines(f: dict[str, Any]) -> list[str]:
    lines = ["fleet:" if f["replicas"] or f["leases"] else "fleet: no keeper run has started"]
    for r in f["replicas"]:
        leads = ", ".join(r["leads"]) or "nothing (follower)"
        seen = "stopped" if r["state"] == "stopped" else "seen"
        lines.append(
            f"  replica {r['replica']:<16} {r['state']:<7} {r['host']} pid {r['pid']}  "
            f"{seen} {age(r['seen_s_ago'])} ago  leads {leads}"
        )
    if f.get("forgotten"):
        lines.append(
            f"  ({f['forgotten']} replica(s) not seen for over {age(f['forget_s'])} left out: "
            "KEEPER_FLEET_FORGET_S)"
        )
    for x in f["leases"]:
        who = x["replica"] if x["live"] else f"nobody (last {x['replica']})"
        lines.append(f"  lease {x['lease']:<40} {who}  term {x['term']}  until {x['expires_at']}")
    return lines


# what `keeper status` reads from the chain, missing while the node does not answer
CHAIN_FIELDS = (
    "block",
    "total_assets",
    "pending_redemptions",
    "paused",
    "phase",
    "tiers",
    "automation",
)


def _phase_lines(phase: int) -> list[str]:
    """What the wind-down's phase means for the keeper, said once under the status's first line."""
    if phase == CLOSING:
        return ["phase closing: no entries; the keeper plans sales toward cash only, no buys"]
    if phase == CLOSED:
        return ["phase closed: every exit pays the price fixed at close; nothing to plan"]
    return []


def _status_offline(ctx: Ctx) -> None:
    """``keeper status`` with the node down: the store's part (the carried flow, the last
    plan), the chain's fields named as unavailable, and exit 3 (EXIT_UNAVAILABLE) so that a
    script or a probe sees the status is partial."""
    carry = carried_flow(ctx)
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


@read_only_command
@main.command()
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.pass_obj
def history(ctx: Ctx, limit: int) -> None:
    """Recent plans, newest first."""
    from keepers.fund.lifecycle import ended_of

    rows = ctx.records().plans.history(limit)
    data = [
        {
            "plan": r.ref,
            "status": r.status,
            "trigger": r.trigger,
            "created_at": r.created_at,
            "actions": len(r.payload["plan"]["actions"]),
            # a held plan (status blocked): the gate and what waits (PlanStore.save_held)
            "held": r.payload.get("held"),
            "note": r.payload.get("note"),
            # made for another deployment than the one the keeper drives (a contract release)
            "deployment": r.deployment,
            "other_deployment": other_deployment_of(ctx, r),
            # a plan ended stale or expired: why and at which stage (keepers.fund.lifecycle)
            "ended": ended_of(r.payload),
        }
        for r in rows
    ]
    ctx.out(
        data,
        lambda: (
            "\n".join(
                f"{d['plan']}  {d['status']:<17} {d['trigger'] or '-':<22} {d['actions']} actions  "
                f"{d['created_at']}"
                + (f"\n    held ({d['held']}): {d['note']}" if d["held"] else "")
                + (
                    f"\n    OTHER DEPLOYMENT: {d['other_deployment']}"
                    if d["other_deployment"]
                    else ""
                )
                + (f"\n    {d['status']}: {d['ended']['reason']}" if d["ended"] else "")
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
    bot = ctx.bot()
    try:
        with ctx.lead(bot):  # a plan: made under the fund's lease, like `keeper plan`
            o = bot.rollback(row.ref, ctx.time(), by)
    except ValueError as err:
        fail(str(err))
    ctx.out(_outcome(o), lambda: _outcome_text(o))


accept_root_options_after(main)  # idempotent; here too for whichever module is imported first
