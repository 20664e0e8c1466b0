"""The operator's command line: ``keeper run|plan|approve|reject|review|status|history|rollback``.

Configuration comes from the environment (KEEPER_* and seed 001 section 8.1's names, see
keepers.fund.settings); a bad value exits with status 2 and names the variable. Unknown
plans and other bad input exit with status 1. ``--json`` prints machine-readable output.

``keeper run`` starts every bot (fund, executor, supervisor, and crosschain when
BALLAST_CROSSCHAIN_CONFIG is set) in one process, or those named
by ``--bots`` (keepers.runtime.runner); ``keeper status`` adds the automation side when a
scheduler is configured.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from typing import Any

import click

from keepers.core.errors import (
    EXIT_CONFIG,
    EXIT_DOMAIN,
    EXIT_UNAVAILABLE,
    KeeperError,
    exit_code,
)
from keepers.fund.settings import FundConfig, FundConfigError, load_fund_config
from keepers.runtime.runner import BOT_NAMES


class Ctx:
    def __init__(self, as_json: bool, now: int | None) -> None:
        self.as_json = as_json
        self.now = now
        self._bot: Any = None
        self._config: FundConfig | None = None

    def config(self) -> FundConfig:
        if self._config is None:
            try:
                self._config = load_fund_config()
            except FundConfigError as err:
                click.echo(f"keeper: invalid configuration: {err}", err=True)
                sys.exit(exit_code(err))
        return self._config

    def bot(self) -> Any:
        if self._bot is None:
            from keepers.core.logging import configure_logging
            from keepers.fund.bot import FundBot
            from keepers.store.db import Store
            from keepers.tx.contracts import ChainMismatchError, DeploymentError
            from keepers.tx.retry import NetworkUnavailable

            cfg = self.config()
            configure_logging(cfg.keeper.log_json, cfg.keeper.log_level)
            try:
                self._bot = FundBot(cfg, Store(cfg.keeper.db_url))
                self._bot.check_chain()
            except DeploymentError as err:
                fail(f"KEEPER_DEPLOYMENT: {err}", exit_code(err))
            except ChainMismatchError as err:
                fail(str(err), exit_code(err))
            except (OSError, NetworkUnavailable) as err:  # requests' errors are OSErrors
                fail(node_unreachable(cfg.keeper.rpc_url, err), EXIT_UNAVAILABLE)
        return self._bot

    def close(self) -> None:
        if self._bot is not None:
            self._bot.store.close()
            self._bot = None

    def time(self) -> int:
        return self.now if self.now is not None else int(time.time())

    def out(self, data: Any, text: Callable[[], str]) -> None:
        if self.as_json:
            click.echo(json.dumps(_plain(data), indent=2, default=str))
        else:
            click.echo(text())


def _plain(x: Any) -> Any:
    if is_dataclass(x) and not isinstance(x, type):
        return _plain(asdict(x))
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    return x


def node_unreachable(url: str, err: BaseException) -> str:
    """One line for a node that does not answer (no traceback, no credentials in the URL)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    shown = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return f"KEEPER_RPC_URL={shown}: node unreachable ({type(err).__name__})"


def fail(message: str, code: int = EXIT_DOMAIN) -> None:
    click.echo(f"keeper: {message}", err=True)
    sys.exit(code)


def _find(ctx: Ctx, ref: str) -> Any:
    row = ctx.bot().plans.find(ref)
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


@click.group()
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--now", type=int, default=None, hidden=True, help="unix time (replays)")
@click.pass_context
def main(ctx: click.Context, as_json: bool, now: int | None) -> None:
    """Ballast fund keeper."""
    ctx.obj = Ctx(as_json, now)
    ctx.call_on_close(ctx.obj.close)


@main.command()
@click.option(
    "--bots",
    default="all",
    show_default=True,
    help=f"comma-separated bots to run in this process, of {','.join(BOT_NAMES)} (all: every "
    "bot; crosschain when BALLAST_CROSSCHAIN_CONFIG is set)",
)
@click.option("--once", is_flag=True, help="start, check, schedule, and exit (for checks)")
@click.pass_obj
def run(ctx: Ctx, bots: str, once: bool) -> None:
    """Long-lived: the fund bot's scheduled jobs and the executor, supervisor, crosschain loops.

    Every chosen bot's configuration is checked before anything starts (exit 2 naming the
    variable). SIGINT or SIGTERM: logged; no new plan or intent is started, the transaction in
    flight is left recorded (a restart resumes the plan), the jobs and loops end within
    KEEPER_STOP_TIMEOUT_S (30 s), the store is closed, exit 0.
    """
    import os
    import signal
    import threading

    from keepers.core.logging import configure_logging, get_logger
    from keepers.core.settings import KeeperSettings
    from keepers.runtime.health import Health, Monitor, serve, tick_bounds
    from keepers.runtime.runner import (
        RunConfigError,
        UnknownBotError,
        build_runtime,
        load_env_settings,
        parse_bots,
    )

    try:
        names = parse_bots(bots)
    except UnknownBotError as err:
        fail(str(err), exit_code(err))
    try:
        if "fund" in names:
            ctx.config()  # exit 2 naming the variable
        log_cfg = load_env_settings(KeeperSettings)
    except RunConfigError as err:
        fail(str(err), exit_code(err))
    configure_logging(log_cfg.log_json, log_cfg.log_level)  # before anything logs
    stop = threading.Event()
    previous: dict[int, Any] = {}
    if not once:  # from now on a signal stops the keeper cleanly, even during start-up

        def on_signal(signum: int, _frame: Any) -> None:
            name = signal.Signals(signum).name
            if not stop.is_set():
                get_logger("keepers.cli").warning(
                    "keeper.signal_received", signal=name, bound_s=log_cfg.stop_timeout_s
                )
                click.echo(f"keeper: received {name}, stopping", err=True)
            stop.set()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        rt = build_runtime(names, stop_event=stop)
    except KeeperError as err:  # config 2, node or store unavailable 3 (keepers.core.errors)
        fail(str(err), exit_code(err))
    rt.schedule()
    resumes = [{"bot": n, **r} for n, work in rt.resumed.items() for r in work]
    jobs = (
        [{"id": j.id, "next_run": j.next_run_time.isoformat()} for j in rt.scheduler.get_jobs()]
        if rt.scheduler is not None
        else []
    )
    loops = [{"bot": n, "interval_s": b.interval_s} for n, b in rt.loops.items()]
    ctx.out(
        {"bots": names, "jobs": jobs, "loops": loops, "resumes": resumes},
        lambda: "\n".join(
            [f"keeper running bots {','.join(names)}"]
            + [f"  {j['id']:<16} next {j['next_run']}" for j in jobs]
            + [f"  {x['bot']:<16} every {x['interval_s']}s" for x in loops]
            + [
                f"  resumes plan {r['ref']} ({r['status']}): {r['done']}/{r['total']} actions "
                f"done, {r['in_flight']} in flight"
                for r in resumes
            ]
        ),
    )
    sys.stdout.flush()
    if once:
        rt.stop()
        return
    monitor = Monitor(
        rt.pipeline.node,
        next((s.address for s in rt.pipeline.signers.values()), None),
        fund=rt.fund,
        interval_s=rt.settings.health_interval_s,
    )
    server = None
    if rt.settings.metrics_port:
        bounds = tick_bounds(names, {n: b.interval_s for n, b in rt.loops.items()})
        health = Health(
            bounds,
            rpc_max_age_s=max(30.0, 3 * rt.settings.health_interval_s),
            alive=lambda: all(t.is_alive() for t in rt.threads + [monitor.thread] if t),
        )
        where = f"{rt.settings.metrics_host}:{rt.settings.metrics_port}"
        try:
            server = serve(
                rt.settings.metrics_host, rt.settings.metrics_port, health=health, store=rt.store
            )
        except OSError as err:
            rt.stop()
            fail(f"KEEPER_METRICS_HOST/KEEPER_METRICS_PORT={where}: {err}", EXIT_CONFIG)
    try:
        monitor.start(rt.stop_event)
        rt.start()
        while not stop.wait(0.5):
            if rt.pipeline.halted is not None:  # another sender uses our key: stop at once
                conflict = rt.pipeline.halted
                if rt.fund is not None:
                    rt.fund.alert("critical", "signer_conflict", str(conflict))
                break
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stuck = rt.stop()
        if server is not None:
            server.shutdown()
            server.server_close()
    if rt.pipeline.halted is not None:
        fail(f"stopped: {rt.pipeline.halted}", exit_code(rt.pipeline.halted))
    if stuck:  # a thread still works: leave without waiting for it (the store stays as is)
        click.echo(f"keeper: stopped, but {', '.join(stuck)} did not finish in time", err=True)
        sys.stderr.flush()
        os._exit(EXIT_DOMAIN)
    click.echo("keeper stopped", err=True)


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
    try:
        o = ctx.bot().approve(row.ref, by, ctx.time(), approve=approve, note=note)
    except ValueError as err:  # a signer setting is a ConfigError (2), a refused decision 1
        fail(str(err), exit_code(err))
    ctx.out(_outcome(o), lambda: _outcome_text(o))


@main.command()
@click.argument("plan_ref")
@click.option("--by", required=True, help="the approving admin")
@click.option("--note", default="")
@click.pass_obj
def approve(ctx: Ctx, plan_ref: str, by: str, note: str) -> None:
    """Approve a plan waiting for approval."""
    _decide(ctx, plan_ref, by, True, note)


@main.command()
@click.argument("plan_ref")
@click.option("--by", required=True, help="the rejecting admin")
@click.option("--note", default="")
@click.pass_obj
def reject(ctx: Ctx, plan_ref: str, by: str, note: str) -> None:
    """Reject a plan waiting for approval."""
    _decide(ctx, plan_ref, by, False, note)


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
    from keepers.fund.planning.metrics import tier_metrics
    from keepers.fund.planning.report import whole
    from keepers.runtime.runner import RunConfigError, automation_status

    r = ctx.bot().read()
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
    carry = [
        {
            "tier": f"L{c.tier + 1}",
            "amount": int(c.amount),
            "next_at": int(c.next_at.timestamp()),
            "slices": c.slices,
            "plan": c.plan_ref,
            "reason": c.reason,
        }
        for c in ctx.bot().carry.active()
    ]
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


def _runway(n: int | None) -> str:
    if n is None:
        return "?"
    return "unlimited" if n >= 2**255 else str(n)


@main.command()
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.pass_obj
def history(ctx: Ctx, limit: int) -> None:
    """Recent plans, newest first."""
    rows = ctx.bot().plans.history(limit)
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


def _add_crosschain() -> None:
    from keepers.crosschain.cli import crosschain

    main.add_command(crosschain)


_add_crosschain()

if __name__ == "__main__":
    main()
