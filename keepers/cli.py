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

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from typing import Any, NoReturn

import click

from keepers.core import redact
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
        self._store: Any = None
        self.offline: str | None = None  # why the node did not answer (read-only commands)

    def config(self) -> FundConfig:
        if self._config is None:
            try:
                self._config = load_fund_config()
            except FundConfigError as err:
                click.echo(f"keeper: invalid configuration: {err}", err=True)
                sys.exit(exit_code(err))
        return self._config

    def bot(self) -> Any:
        """The fund bot, its chain checked (KEEPER_CHAIN_ID, the deployment record's code);
        a node that does not answer exits 3 (EXIT_UNAVAILABLE) naming KEEPER_RPC_URL."""
        bot = self.bot_or_offline()
        if bot is None:
            fail(self.offline or "node unreachable", EXIT_UNAVAILABLE)
        return bot

    def bot_or_offline(self) -> Any:
        """The fund bot, or None when the node does not answer (``self.offline`` then says
        why, naming KEEPER_RPC_URL): for the read-only commands, which answer from the store.
        A bad deployment record or a chain mismatch still exits (2), as for every command."""
        if self._bot is None and self.offline is None:
            from keepers.core.logging import configure_logging
            from keepers.fund.bot import FundBot
            from keepers.tx.contracts import ChainMismatchError, DeploymentError
            from keepers.tx.retry import NetworkUnavailable

            cfg = self.config()
            configure_logging(cfg.keeper.log_json, cfg.keeper.log_level)
            try:
                bot = FundBot(cfg, self.store())
                bot.check_chain()
            except DeploymentError as err:
                fail(f"KEEPER_DEPLOYMENT: {err}", exit_code(err))
            except ChainMismatchError as err:
                fail(str(err), exit_code(err))
            except (OSError, NetworkUnavailable) as err:  # requests' errors are OSErrors
                self.offline = node_unreachable(cfg.keeper.rpc_url, err)
            else:
                self._bot = bot
        return self._bot

    @contextmanager
    def lead(self, bot: Any) -> Iterator[None]:
        """Decide under the fund's lease (keepers.runtime.leases.Lead): a command that makes a
        plan while a live `keeper run` leads the fund exits 1 naming that replica."""
        import os
        import socket

        from keepers.runtime.leases import Lead, LeaseLost

        lease = f"fund:{bot.lease_scope}"
        replica = f"cli-{socket.gethostname()}-{os.getpid()}"[:64]
        lead = Lead(self.store(), lease, ttl_s=self.config().keeper.lease_ttl_s, replica=replica)
        try:
            leases = lead.__enter__()
        except LeaseLost as err:
            fail(str(err), exit_code(err))
        try:
            bot.fence = leases.fence_for(lease)
            bot.leading = lambda: leases.held(lease)
            yield
        finally:
            bot.fence, bot.leading = None, lambda: True
            lead.__exit__(None, None, None)

    def store(self) -> Any:
        """The keeper's store (KEEPER_DB_URL) alone: no node, no deployment record."""
        if self._store is None:
            from keepers.store.db import Store

            self._store = Store(self.config().keeper.db_url)
        return self._store

    def records(self) -> Any:
        """The fund's records in the store (``.plans``, ``.carry``): what the read-only
        commands show, with the node up or down."""
        if self._bot is not None:
            return self._bot
        from types import SimpleNamespace

        from keepers.fund.records import CarryStore, PlanStore

        return SimpleNamespace(plans=PlanStore(self.store()), carry=CarryStore(self.store()))

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
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
    from keepers.tx.node import unreachable

    return unreachable(url, err)


def fail(message: str, code: int = EXIT_DOMAIN) -> NoReturn:
    click.echo(f"keeper: {message}", err=True)
    sys.exit(code)


@click.group()
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--now", type=int, default=None, hidden=True, help="unix time (replays)")
@click.pass_context
def main(ctx: click.Context, as_json: bool, now: int | None) -> None:
    """Ballast fund keeper."""
    redact.install()  # before anything can print: no secret in any message
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
    (keepers.runtime.runner.Runtime.cycle), then exit: 0, or 1 when a bot's cycle failed.
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
        rt = build_runtime(names, stop_event=stop)
    except KeeperError as err:  # config 2, node or store unavailable 3 (keepers.core.errors)
        restore_signals()
        fail(str(err), exit_code(err))
    rt.schedule()
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
        failed = [c["bot"] for c in cycle if not c["ok"]]
        if stuck or failed:
            fail(f"cycle failed: {', '.join(failed + stuck)}", EXIT_DOMAIN)
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
        restore_signals()
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


def _late_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:  # the root's Ctx, or the crosschain group's dict
        if isinstance(ctx.obj, dict):
            ctx.obj["json"] = True
        else:
            ctx.obj.as_json = True


def _late_now(ctx: click.Context, _param: click.Parameter, value: int | None) -> None:
    if value is not None and isinstance(ctx.obj, Ctx):
        ctx.obj.now = value


def accept_root_options_after(group: click.Group) -> None:
    """``--json`` (and the root's hidden ``--now``) after the subcommand too: ``keeper status
    --json`` is ``keeper --json status``, down nested groups (``keeper crosschain status
    --json``). The option sets the shared context before the command body runs (click parses
    a subcommand's options after its group's callback)."""
    for cmd in group.commands.values():
        if isinstance(cmd, click.Group):
            accept_root_options_after(cmd)
            continue
        late = [
            click.Option(
                ["--json", "late_json"],
                is_flag=True,
                expose_value=False,
                callback=_late_json,
                help="machine-readable output (as `keeper --json ...`)",
            )
        ]
        if group is main:
            late.append(
                click.Option(
                    ["--now", "late_now"],
                    type=int,
                    default=None,
                    hidden=True,
                    expose_value=False,
                    callback=_late_now,
                )
            )
        names = {p.name for p in cmd.params}
        cmd.params.extend(o for o in late if o.name not in names)


def _add_slices() -> None:
    """The slices' command groups: the fund commands register themselves on ``main`` (their
    module imports this one's helpers); the cross-chain group is added as ``crosschain``."""
    import keepers.fund.cli  # noqa: F401  (plan, approve, reject, review, status, history, rollback)
    from keepers.crosschain.cli import crosschain

    main.add_command(crosschain)
    accept_root_options_after(main)


_add_slices()

if __name__ == "__main__":  # `python -m keepers.cli`: the fund commands sit on the module's group
    from keepers.cli import main as _module_main

    _module_main()
