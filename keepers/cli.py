"""The operator's command line: the root group ``keeper``, its shared context, output and exit
helpers, and ``keeper run``. Each slice brings its own commands: the fund's
``plan|approve|reject|review|status|history|rollback`` (keepers.fund.cli) and the cross-chain
group ``crosschain`` (keepers.crosschain.cli).

Configuration comes from the environment (KEEPER_* and seed 001 section 8.1's names, see
keepers.fund.settings); a bad value exits with status 2 and names the variable. Unknown
plans and other bad input exit with status 1. ``--json`` prints machine-readable output.

``keeper run`` starts every bot (fund, executor, supervisor, and crosschain when
BALLAST_CROSSCHAIN_CONFIG is set) in one process, or those named
by ``--bots`` (keepers.runtime.runner); ``keeper status`` adds the automation side when a
scheduler is configured.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from keepers.cli_base import (  # noqa: F401  (re-exported: the slices' and the tests' names)
    STATUS_SECTIONS,
    Ctx,
    StatusSection,
    accept_root_options_after,
    exit_code,
    fail,
    main,
    node_unreachable,
)
from keepers.core.errors import EXIT_CONFIG, EXIT_DOMAIN, KeeperError
from keepers.runtime.names import BOT_NAMES


@main.command()
@click.option(
    "--bots",
    default="all",
    show_default=True,
    help=f"comma-separated bots to run in this process, of {','.join(BOT_NAMES)} (all: every "
    "bot; crosschain when BALLAST_CROSSCHAIN_CONFIG is set)",
)
@click.option(
    "--once",
    is_flag=True,
    help="start, check, run one full cycle of every bot (the fund's waiting plans moved on, "
    "an approved plan executed, its event triggers; each loop bot's tick), and exit",
)
@click.pass_obj
def run(ctx: Ctx, bots: str, once: bool) -> None:
    """Long-lived: the fund bot's scheduled jobs and the executor, supervisor, crosschain loops.

    Every chosen bot's configuration is checked before anything starts (exit 2 naming the
    variable). SIGINT or SIGTERM: logged; no new plan or intent is started, the transaction in
    flight is left recorded (a restart resumes the plan), the jobs and loops end within
    KEEPER_STOP_TIMEOUT_S (30 s), the store is closed, exit 0.

    ``--once``: the same start-up and checks, then one cycle of every bot in this process
    (keepers.runtime.runner.Runtime.cycle), then exit: 0, or 1 when a bot's cycle failed (2
    when the cause is configuration, named in the message).
    """
    import os
    import signal
    import threading

    from keepers.core.gc_tuning import tune_gc
    from keepers.core.logging import configure_logging, get_logger
    from keepers.core.settings import KeeperSettings
    from keepers.registry import declarations
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

    # from now on a signal stops the keeper cleanly, even during start-up (and --once's cycle:
    # no new plan or intent, the transaction in flight recorded)
    def on_signal(signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        if not stop.is_set():
            get_logger("keepers.cli").warning(
                "keeper.signal_received", signal=name, bound_s=log_cfg.stop_timeout_s
            )
            click.echo(f"keeper: received {name}, stopping", err=True)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}

    def restore_signals() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    try:
        rt = build_runtime(names, declarations=declarations(), stop_event=stop)
    except KeeperError as err:  # config 2, node or store unavailable 3 (keepers.core.errors)
        restore_signals()
        fail(str(err), exit_code(err))
    rt.schedule()
    if not once:
        tune_gc()  # a long-lived process: keepers.core.gc_tuning
    cycle: list[dict[str, Any]] = []
    if once:
        try:
            cycle = rt.cycle(ctx.time())
        finally:
            restore_signals()
    resumes = [{"bot": n, **r} for n, work in rt.resumed.items() for r in work]
    jobs = (
        [{"id": j.id, "next_run": j.next_run_time.isoformat()} for j in rt.scheduler.get_jobs()]
        if rt.scheduler is not None
        else []
    )
    loops = [{"bot": n, "interval_s": b.interval_s} for n, b in rt.loops.items()]
    data = {"bots": names, "jobs": jobs, "loops": loops, "resumes": resumes}
    ctx.out(
        {**data, "cycle": cycle} if once else data,
        lambda: "\n".join(
            [f"keeper running bots {','.join(names)}"]
            + [f"  {j['id']:<16} next {j['next_run']}" for j in jobs]
            + [f"  {x['bot']:<16} every {x['interval_s']}s" for x in loops]
            + [
                f"  resumes plan {r['ref']} ({r['status']}): {r['done']}/{r['total']} actions "
                f"done, {r['in_flight']} in flight"
                for r in resumes
            ]
            + _cycle_lines(cycle)
        ),
    )
    sys.stdout.flush()
    if once:
        stuck = rt.stop()
        failed = [c for c in cycle if not c["ok"]]
        if stuck or failed:
            # the configuration code when a bot failed for a configuration cause (exit 2,
            # naming it): fixing the settings, not retrying, is what helps
            config = [c for c in failed if c.get("exit") == EXIT_CONFIG]
            names = [c["bot"] for c in failed] + stuck
            if config:
                why = "; ".join(f"{c['bot']}: {c['error']}" for c in config)
                fail(f"cycle failed: {', '.join(names)} (configuration: {why})", EXIT_CONFIG)
            fail(f"cycle failed: {', '.join(names)}", EXIT_DOMAIN)
        return
    monitor = Monitor(
        rt.pipeline.node,
        next((s.address for s in rt.pipeline.signers.values()), None),
        fund=rt.fund,
        interval_s=rt.settings.health_interval_s,
    )
    from keepers.console.cli import serve_in_run

    try:  # the web console on this keeper's fund bot (KEEPER_CONSOLE_IN_RUN)
        console = serve_in_run(rt.fund, rt.stop_event)
    except KeeperError as err:
        rt.stop()
        fail(str(err), exit_code(err))
    except OSError as err:
        rt.stop()
        fail(f"KEEPER_CONSOLE_HOST/KEEPER_CONSOLE_PORT: {err}", EXIT_CONFIG)
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
            if console is not None:
                console.stop()
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
        restore_signals()
        stuck = rt.stop()
        if console is not None:
            console.stop()
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


@main.group()
def store() -> None:
    """The keeper's store (KEEPER_DB_URL): taking its schema back to an older release's."""


@store.command("downgrade")
@click.argument("revision")
@click.option(
    "--end-plans",
    is_flag=True,
    help="first end, as aborted with the reason, every plan the older keeper could not read "
    "or hold (a waiting plan this release's keeper made; a stale plan below 0009)",
)
@click.pass_obj
def store_downgrade(ctx: Ctx, revision: str, end_plans: bool) -> None:
    """Take the store's schema back to REVISION, an older release's newest migration (0.1.0's
    is 0008), with this release's code, the keepers stopped and the store backed up
    (docs/operator/upgrades.md). Refuses (exit 1, nothing written), naming each plan, while a
    plan would be stranded: a waiting plan (proposed, pending approval, approved: half executed
    too) this release's keeper made, which the older keeper cannot read, or a stale plan, which
    0008 cannot hold. --end-plans ends them as aborted first (what was sent stays sent; the
    older keeper plans again from the fund as it is), each with its reason."""
    import re

    from keepers.store.db import downgrade, make_engine, stored_revision
    from keepers.store.downgrade import check_or_end, refusal

    engine = make_engine(ctx.config().keeper.db_url)
    try:
        before = stored_revision(engine)
        if not re.fullmatch(r"\d{4}", revision) or before is None or revision > before:
            fail(
                f"REVISION={revision!r}: not a revision below the store's ({before}); name an "
                "older release's newest migration (0.1.0's is 0008)"
            )
        items = check_or_end(engine, revision, end_plans=end_plans, now=ctx.time())
        if items and not end_plans:
            fail(refusal(items, revision))
        if revision != before:
            downgrade(engine, revision)
        after = stored_revision(engine)
    finally:
        engine.dispose()
    data = {"from": before, "to": after, "ended": [i.as_dict() for i in items]}
    ctx.out(
        data,
        lambda: "\n".join(
            [f"store at {after} (was {before})"]
            + [f"  ended {i.ref} (was {i.status}): {i.why}" for i in items]
        ),
    )


def _cycle_lines(cycle: list[dict[str, Any]]) -> list[str]:
    """`keeper run --once`'s cycle, one line per bot and one per plan it moved."""
    lines = []
    for c in cycle:
        if not c["ok"]:
            lines.append(f"  cycle {c['bot']:<10} failed: {c['error']}")
            continue
        lines.append(f"  cycle {c['bot']:<10} ok")
        result = c.get("result")
        items = result if isinstance(result, list) else [result]
        for r in items:
            if isinstance(r, dict) and r.get("plan_id") and r.get("status"):
                detail = f"  {r['detail']}" if r.get("detail") else ""
                lines.append(f"    plan {r['plan_id']}: {r['status']}{detail}")
    return lines


def _automation_status(now: int) -> dict[str, Any] | None:
    """``keeper status``'s automation part (keepers.automation.status), when a scheduler is
    configured; a bad automation setting ends the command naming it (exit 2)."""
    from keepers.automation.status import automation_status
    from keepers.runtime.runner import RunConfigError

    try:
        return automation_status(now)
    except RunConfigError as err:
        fail(str(err), exit_code(err))


def _automation_lines(auto: dict[str, Any]) -> list[str]:
    from keepers.core.amounts import format_amount

    lines = [f"automation: scheduler {auto['scheduler']}  due runs {auto['due_runs']}"]
    if "executor_credit_wei" in auto:
        owed = format_amount(auto["executor_credit_wei"], 18, places=6)
        lines.append(f"  executor {auto['executor']}  credit owed {owed}")
    if "stuck" in auto:
        stuck = ", ".join(f"{x['task']} ({x['reason']})" for x in auto["stuck"])
        lines.append(f"  tasks {auto['tasks']}  stuck {len(auto['stuck'])} {stuck}")
        for f in auto["funders"]:
            lines.append(
                f"  funder {f['funder']}  balance {format_amount(f['balance_wei'], 18, places=2)}  "
                f"runway {_runway(f['runway_intervals'])} intervals"
            )
    return lines


def _release_status(_now: int) -> dict[str, Any] | None:
    """``keeper status``'s release part: this keeper's version and ABI release beside the
    release the fund's contracts answer, and the deployment plans are recorded for."""
    ctx = click.get_current_context().find_object(Ctx)
    bot = ctx.bot_or_offline() if ctx is not None else None
    if bot is None:
        return None
    return {**bot.release.as_dict(), "deployment": bot.deployment}


def _release_lines(d: dict[str, Any]) -> list[str]:
    same = d["contracts_release"] == d["abis_release"]
    lines = [
        f"release: keeper {d['keeper_version']} (ABIs of contract release {d['abis_release']}), "
        f"contracts {d['contracts_release']}{'' if same else ' (an older release it drives)'}",
        f"  deployment {d['deployment']}",
    ]
    lines += [f"  off on these contracts: {f}" for f in d["features_off"]]
    return lines


def _private_status(_now: int) -> dict[str, Any] | None:
    """``keeper status``'s private-submission part (keepers.tx.relay): the relays, the
    transactions pending at one, the drops of the last day; from the store alone."""
    from keepers.tx.relay import private_view

    ctx = click.get_current_context().find_object(Ctx)
    if ctx is None:
        return None
    return private_view(ctx.store(), ctx.config().keeper)


def _private_lines(d: dict[str, Any]) -> list[str]:
    from keepers.tx.relay import private_lines

    return private_lines(d)


def _runway(n: int | None) -> str:
    if n is None:
        return "?"
    return "unlimited" if n >= 2**255 else str(n)


def _add_slices() -> None:
    """The slices' command groups: the fund commands register themselves on ``main`` (their
    module imports keepers.cli_base, never this one); the cross-chain group is added as
    ``crosschain``; ``keeper status`` (the fund's command) gets the automation slice's part
    as a section, so that neither slice imports the other."""
    import keepers.console.cli  # noqa: F401  (console)
    import keepers.fund.cli  # noqa: F401  (plan, approve, reject, review, status, history, rollback)
    from keepers.crosschain.cli import crosschain

    main.add_command(crosschain)
    if not any(x.key == "release" for x in STATUS_SECTIONS):
        STATUS_SECTIONS.append(StatusSection("release", _release_status, _release_lines))
    if not any(x.key == "private" for x in STATUS_SECTIONS):
        STATUS_SECTIONS.append(StatusSection("private", _private_status, _private_lines))
    if not any(x.key == "automation" for x in STATUS_SECTIONS):
        STATUS_SECTIONS.append(StatusSection("automation", _automation_status, _automation_lines))
    accept_root_options_after(main)


_add_slices()

if __name__ == "__main__":  # `python -m keepers.cli`: one group, shared with keepers.cli_base
    main()
