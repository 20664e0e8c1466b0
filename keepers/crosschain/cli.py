"""``crosschain status|plan|run|move|approve|history``: the cross-chain inventory bot's commands.

Export: the click group `crosschain` (the lead adds it to the ``keeper`` CLI with
``main.add_command(crosschain)``; ``python -m keepers.crosschain.cli`` runs it standalone).

Environment:
- BALLAST_CROSSCHAIN_CONFIG (or --config): the cross-chain config (keepers.crosschain.config).
- KEEPER_* (keepers.core.settings.KeeperSettings): store URL, signer, fees, confirmations; the audit
  policy gets a generated ``crosschain`` role (tokens, CCTP, USDT0 contracts of the config)
  unless KEEPER_POLICY* already defines one.
- BALLAST_CROSSCHAIN_ROUTES: route-contract files or directories of them, separated by
  ``os.pathsep`` (keepers.crosschain.route_contracts; examples in keepers/crosschain/networks/).
  Whether from these files or from the config, every route contract is read on its chain at
  start-up (code, domain, endpoint id, versions) and a mismatch refuses to start (exit 2).
- BALLAST_CROSSCHAIN_HOLDERS: JSON {chain: address} of each chain's inventory holder
  (default: the keeper account itself).
- BALLAST_CEX_API_KEY / BALLAST_CEX_SECRET: enables the CEX route (ccxt, ``cex_exchange``).
- CCTP attestations: the config's ``iris`` section (Circle's attestation service: sandbox,
  mainnet or a custom URL) on real networks; BALLAST_CCTP_LOCAL_ATTESTER_KEY, LOCAL CHAINS
  ONLY, for the CCTP stand-ins. Both at once is refused (exit 2); with neither the CCTP route
  is not wired and USDC legs fall back to the CEX (reported as "no adapter wired").
Read-only commands (``status``, ``plan``, ``history``) need no signer: without one each
chain's inventory holder comes from BALLAST_CROSSCHAIN_HOLDERS (``history`` reads the store
alone). Every call to a chain ends within its ``rpc_timeout_s`` and every chain's reads within
``chain_budget_s``: ``status`` answers within about twice that budget, with the chains that
answered, the moves from the store, and the chains it could not read named.

Exit codes: 0 ok, 1 planning error (insufficient surplus, no route) or bad input, 2 bad
configuration, 3 a chain's node does not answer (``status`` shows what it could read and
names the rest), 4 halted: another process sent with the keeper's key (``run --once``).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from keepers.cli_base import read_only_command
from keepers.core import redact
from keepers.core.errors import ConfigError  # keepers.crosschain.config's (the one ConfigError)
from keepers.runtime.names import CROSSCHAIN_ENV as ENV_PATH


def build_bot(
    config_path: str | None,
    exclusive: bool = False,
    read_only: bool = False,
    verbose: bool = False,
) -> Any:
    """A `CrosschainBot` from the environment (see the module doc), with its own store and one
    pipeline per chain; the crosschain role is added to KEEPER_POLICY* and stored for every
    process (keepers.runtime.policy). ``read_only``: no signer needed (its address is used
    when one is configured), no pipeline, nothing stored but what the store already has, and
    info logs kept off the terminal unless ``verbose``."""
    from keepers.core.logging import configure_logging, read_only_level
    from keepers.core.settings import load_settings
    from keepers.crosschain.assemble import build_crosschain_bot
    from keepers.crosschain.bot import crosschain_policy
    from keepers.crosschain.route_contracts import check_routes_wired, load_with_routes
    from keepers.runtime.policy import merged, store_policy, stored_policy
    from keepers.store.db import Store
    from keepers.tx.signers import signer_from_settings

    # the route files fill in (and must agree with) the config's route contracts
    cfg, pinned = load_with_routes(config_path)
    check_routes_wired(cfg, routes_given=pinned is not None)  # before asking for anything else
    settings = load_settings()
    level = read_only_level(settings.log_level, verbose) if read_only else settings.log_level
    configure_logging(settings.log_json, level)  # on stderr: stdout stays output
    if read_only:
        try:
            signer = signer_from_settings(settings)
        except ConfigError:  # a read needs no key: the holders say where the balances are
            signer = None
        store = Store(settings.db_url)
        return build_crosschain_bot(
            cfg, settings, store, signer, pinned=pinned, on_stop=store.close, read_only=True
        )
    own = merged(crosschain_policy(cfg), settings.policy)  # a configured role wins
    signer = signer_from_settings(settings)
    store = Store(settings.db_url, exclusive=exclusive)
    store_policy(store, own, written_by="crosschain")
    settings = settings.model_copy(update={"policy": merged(stored_policy(store), own)})
    return build_crosschain_bot(cfg, settings, store, signer, pinned=pinned, on_stop=store.close)


def _bot(
    ctx: click.Context,
    exclusive: bool = False,
    on_unreachable: Callable[[dict[str, str]], None] | None = None,
    read_only: bool = False,
) -> Any:
    """The bot, or exit: 2 for a bad configuration, 3 when a chain's node does not answer
    (``on_unreachable(down)`` first, for the read-only commands)."""
    from keepers.core.errors import EXIT_UNAVAILABLE
    from keepers.crosschain.route_contracts import ChainsUnreachable
    from keepers.tx.retry import NetworkUnavailable

    try:
        # a read-only command's --verbose (read_only_command); the others log as configured
        quiet = {"verbose": bool(ctx.obj.get("verbose"))} if read_only else {}
        return build_bot(ctx.obj["config"], exclusive=exclusive, read_only=read_only, **quiet)
    except ChainsUnreachable as err:  # the route contracts' start-up check found a node down
        if on_unreachable is not None:
            on_unreachable(err.down)
        click.echo(f"crosschain: {err}", err=True)
        sys.exit(EXIT_UNAVAILABLE)
    except (ConfigError, ValueError) as err:
        click.echo(f"crosschain: invalid configuration: {err}", err=True)
        sys.exit(2)
    except (OSError, NetworkUnavailable) as err:  # a chain's node does not answer at start-up
        click.echo(f"crosschain: a chain's node is unreachable ({type(err).__name__})", err=True)
        sys.exit(EXIT_UNAVAILABLE)


# what `crosschain status` reads from the chains, missing while a node does not answer
CHAIN_FIELDS = ("balance", "trigger_at", "triggered")


def _stored_moves() -> list[dict[str, Any]]:
    """The moves in flight, from the store alone (KEEPER_DB_URL): no chain, no signer."""
    from sqlalchemy import select

    from keepers.core.settings import load_settings
    from keepers.crosschain.moves import TERMINAL, MoveView
    from keepers.store import models as m
    from keepers.store.db import Store

    store = Store(load_settings().db_url)
    try:
        with store.sessions() as s:
            q = select(m.CrosschainMove).where(m.CrosschainMove.state.not_in(list(TERMINAL)))
            return [vars(MoveView.of(r)) for r in s.scalars(q.order_by(m.CrosschainMove.id))]
    finally:
        store.close()


def _status_offline(ctx: click.Context, down: dict[str, str], bot: Any = None) -> None:
    """``crosschain status`` with a chain's node down: the moves from the store, the chains
    that do not answer named (URL without credentials), the balance fields listed as missing;
    exit 3 (EXIT_UNAVAILABLE), as ``keeper status``."""
    from keepers.core.errors import EXIT_UNAVAILABLE

    if bot is not None:
        moves = [_labelled(v) for v in bot.engine.moves(active_only=True)]
    else:
        moves = [_labelled(v) for v in _stored_moves()]
    lines = [f"chain data unavailable: {name}: {why}" for name, why in down.items()]
    lines.append(f"  missing: {', '.join(CHAIN_FIELDS)} of every chain and asset")
    lines.append("from the store:")
    lines += [f"  {_move_line(mv)}" for mv in moves] or ["  no move in flight"]
    data = {
        "chain": "unavailable",
        "unreachable": down,
        "unavailable": list(CHAIN_FIELDS),
        "moves": moves,
    }
    _emit(ctx, data, "\n".join(lines))
    click.echo(f"crosschain: {'; '.join(down.values())}: status shows the store only", err=True)
    sys.exit(EXIT_UNAVAILABLE)


def _move_line(mv: dict[str, Any]) -> str:
    """A move in flight, its amount in the asset's own units (``amount`` in the JSON)."""
    line = (
        f"move {mv['id']} {mv['asset']} {mv['source']}->{mv['dest']} "
        f"{mv['amount']} {mv['asset']} via {mv['route'] or '-'}: {mv['state']}"
    )
    return line + (f" ({mv['error']})" if mv.get("error") else "")


def _labelled(view: Any) -> dict[str, Any]:
    """A MoveView as status shows it: ``amount`` in the asset's own units beside the raw
    base-unit fields."""
    from keepers.core.amounts import format_amount

    d = dict(vars(view)) if not isinstance(view, dict) else dict(view)
    d["amount"] = format_amount(d["amount_scaled"], 18, grouping=False)
    d["unit"] = d["asset"]
    return d


def _emit(ctx: click.Context, data: Any, text: str) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if ctx.obj["json"] else text)


@click.group("crosschain")
@click.option(
    "--config", "config", default=None, help=f"cross-chain config file (default: ${ENV_PATH})"
)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.pass_context
def crosschain(ctx: click.Context, config: str | None, as_json: bool) -> None:
    """Cross-chain USDC/USDT inventory: balances, plans, moves."""
    redact.install()  # standalone too (python -m keepers.crosschain.cli): no secret printed
    from keepers.cli_base import refuse_keys_in_settings

    refuse_keys_in_settings()
    root_json = bool(getattr(ctx.obj, "as_json", False))  # `keeper --json crosschain ...`
    ctx.obj = {"config": config, "json": as_json or root_json}


@read_only_command
@crosschain.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Per chain: its health; per chain and asset: balance, base, trigger threshold, in flight,
    deficit and surplus (each in the asset's own units); then the moves in flight. A chain that
    does not answer within chain_budget_s is named and the command exits 3 after showing the
    rest. Needs no signer."""
    from keepers.core.errors import EXIT_UNAVAILABLE

    bot = _bot(ctx, on_unreachable=lambda down: _status_offline(ctx, down), read_only=True)
    try:
        balances = bot.balances()
        rows = bot.status_rows(balances)
        moves = [_labelled(v) for v in bot.engine.moves(active_only=True)]
        chains = bot.health.snapshot()
        down = bot.health.not_up()
    finally:
        bot.stop()
    lines = [f"{'chain':<12}{'health':<9}detail"]
    for c in chains:
        lines.append(f"{c['chain']:<12}{c['status']:<9}{c['error'] or ''}")
    lines.append("amounts in each asset's own units (1 USDC = 1.0)")
    lines.append(
        f"{'chain':<12}{'asset':<6}{'balance':>16}{'base':>14}{'trigger<=':>14}"
        f"{'in':>12}{'out':>12}{'deficit':>12}{'surplus':>14}  triggered"
    )
    for r in rows:
        lines.append(
            f"{r['chain']:<12}{r['asset']:<6}{r['balance']:>16}{r['base']:>14}"
            f"{r['trigger_at']:>14}{r['in_flight_in']:>12}{r['in_flight_out']:>12}"
            f"{r['deficit']:>12}{r['surplus']:>14}  {'YES' if r['triggered'] else '-'}"
        )
    for name in down:
        lines.append(f"chain data unavailable: {name}: {down[name]}")
    lines += [_move_line(mv) for mv in moves] or ["no move in flight"]
    data = {"chains": chains, "balances": rows, "moves": moves}
    if down:
        data["unreachable"] = down
    _emit(ctx, data, "\n".join(lines))
    if down:
        click.echo(f"crosschain: chain(s) not read: {', '.join(down)}", err=True)
        sys.exit(EXIT_UNAVAILABLE)


@read_only_command
@crosschain.command()
@click.pass_context
def plan(ctx: click.Context) -> None:
    """The transfers the planner would start now (in-flight aware); nothing is sent."""
    from keepers.crosschain.inventory import orders
    from keepers.crosschain.planning import CrosschainPlanningError

    bot = _bot(ctx, read_only=True)
    try:
        balances = bot.balances()
        down = bot.health.not_up()
        legs = orders(bot.answering(balances), bot.plan(balances))
    except CrosschainPlanningError as err:
        text = bot.planning_error(err, balances)
        if ctx.obj["json"]:
            click.echo(json.dumps({"error": text, "kind": type(err).__name__}, indent=2))
        click.echo(f"crosschain: {text}", err=True)
        sys.exit(1)
    finally:
        bot.stop()
    if down:
        click.echo(f"crosschain: planned without chain(s) {', '.join(down)}: {down}", err=True)
    data = [
        {
            "asset": o.coin,
            "source": o.transfer.source,
            "dest": o.transfer.dest,
            "amount": o.amount,
            "route": o.route.value,
            "source_units": o.source_units,
            "destination_units": o.destination_units,
            "from": o.source,
            "to": o.destination,
        }
        for o in legs
    ]
    text = (
        "\n".join(
            f"{d['asset']} {d['amount']} {d['source']} -> {d['dest']} via {d['route']}"
            for d in data
        )
        or "nothing to do"
    )
    _emit(ctx, data, text)


@crosschain.command()
@click.option("--once", is_flag=True, help="one tick, then exit")
@click.option("--interval", type=float, default=30.0, show_default=True)
@click.option("--max-seconds", type=float, default=None)
@click.pass_context
def run(ctx: click.Context, once: bool, interval: float, max_seconds: float | None) -> None:
    """Tick: read balances, plan, create moves, advance every move (long-lived loop).

    A tick that raises is logged and reported, and the loop goes on (the next tick reads the
    chains afresh; moves resume from their stored state); with --once it exits 1. SIGTERM and
    SIGINT end the loop at once, after the tick in progress, and the store is closed."""
    import signal
    import threading

    from keepers.core.logging import get_logger

    log = get_logger("keepers.crosschain")
    bot = _bot(ctx, exclusive=True)
    stopping = threading.Event()
    engine = getattr(bot, "engine", None)
    if engine is not None:  # once set: no new move, step or intent; the one in flight ends
        engine.stopping = stopping

    def on_signal(signum: int, _frame: Any) -> None:
        if not stopping.is_set():
            log.warning("crosschain.signal_received", signal=signal.Signals(signum).name)
        stopping.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, on_signal)
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    failed = planning = False
    halted: dict[str, str] = {}
    down: list[str] = []
    try:
        bot.start()
        _print_chains(bot, log)
        while not stopping.is_set():
            try:
                report = bot.tick()
            except Exception as err:  # noqa: BLE001 - one bad tick must not stop the bot
                failed = True
                log.error("crosschain.tick_failed", error=f"{type(err).__name__}: {err}")
                click.echo(f"crosschain: tick failed: {type(err).__name__}: {err}", err=True)
            else:
                failed = False
                planning = report.error is not None
                halted = getattr(report, "halted", {})
                down = [c["chain"] for c in getattr(report, "chains", []) if c["status"] == "down"]
                _report(ctx, report)
            if once or (deadline is not None and time.monotonic() > deadline):
                break
            stopping.wait(interval)
    finally:
        bot.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if once and halted:
        from keepers.core.errors import EXIT_HALTED

        for name, why in halted.items():
            click.echo(f"crosschain: halted on {name}: {why}", err=True)
        sys.exit(EXIT_HALTED)
    if once and down:
        from keepers.core.errors import EXIT_UNAVAILABLE

        click.echo(f"crosschain: chain(s) down: {', '.join(down)}", err=True)
        sys.exit(EXIT_UNAVAILABLE)
    if once and (failed or planning):
        sys.exit(1)


def _print_chains(bot: Any, log: Any) -> None:
    """At start-up, to stderr and the log: each chain's confirmations, call deadline and
    health (a chain that mines on demand must not wait for 15 confirmations unnoticed)."""
    if not hasattr(bot, "health"):  # a bot without chains of its own (a test's stand-in)
        return
    confirmations = bot.confirmations()
    for c in bot.config.chains:
        n = confirmations.get(c.name)
        source = "config" if c.confirmations is not None else "KEEPER_CONFIRMATIONS_*"
        state = bot.health.states[c.name]
        log.info(
            "crosschain.chain",
            chain=c.name,
            chain_id=c.chain_id,
            confirmations=n,
            confirmations_from=source,
            rpc_timeout_s=c.rpc_timeout_s,
            status=state.status,
        )
        click.echo(
            f"crosschain: chain {c.name} (chain id {c.chain_id}): {n} confirmations ({source}), "
            f"calls end within {c.rpc_timeout_s:g}s, {state.status}"
            + (f": {state.error}" if state.error else ""),
            err=True,
        )


def _report(ctx: click.Context, report: Any) -> None:
    """A tick's report: in JSON every tick; as text only what happened (a new move, a move
    that changed state or waits, a plan error, a chain not up)."""
    if ctx.obj["json"]:
        _emit(
            ctx,
            {
                "created": [vars(v) for v in report.created],
                "moves": [vars(v) for v in report.moves],
                "error": report.error,
                "chains": getattr(report, "chains", []),
            },
            "",
        )
        return
    parts = []
    if report.created:
        parts.append(f"{len(report.created)} created")
    parts += [f"move {v.id} {v.state}" for v in report.moves]
    if report.error:
        parts.append(f"plan error: {report.error}")
    chains = getattr(report, "chains", [])
    parts += [f"chain {c['chain']} {c['status']}" for c in chains if c["status"] != "up"]
    if parts:
        click.echo("tick: " + ", ".join(parts))


@crosschain.command()
@click.argument("asset")
@click.argument("source")
@click.argument("dest")
@click.argument("amount")
@click.pass_context
def move(ctx: click.Context, asset: str, source: str, dest: str, amount: str) -> None:
    """An operator's big move (human AMOUNT); it waits for approval."""
    bot = _bot(ctx)
    try:
        view = bot.instruct(asset.upper(), source, dest, amount)
    except (KeyError, ValueError) as err:
        click.echo(f"crosschain: {err}", err=True)
        sys.exit(1)
    finally:
        bot.stop()
    _emit(ctx, vars(view), f"move {view.id} created, awaiting approval")


@crosschain.command()
@click.argument("move_id", type=int)
@click.option("--admin", required=True)
@click.option("--reject", is_flag=True)
@click.option("--note", default="")
@click.pass_context
def approve(ctx: click.Context, move_id: int, admin: str, reject: bool, note: str) -> None:
    """Record an admin's approval (or --reject) of a big move."""
    bot = _bot(ctx)
    try:
        bot.engine.approve(move_id, admin, not reject, note)
    except LookupError as err:
        click.echo(f"crosschain: {err}", err=True)
        sys.exit(1)
    finally:
        bot.stop()
    _emit(
        ctx,
        {"move": move_id, "admin": admin, "approve": not reject},
        f"move {move_id} {'rejected' if reject else 'approved'} by {admin}",
    )


@read_only_command
@crosschain.command()
@click.option("--limit", type=int, default=20, show_default=True, help="newest moves shown")
@click.option("--all", "every", is_flag=True, help="moves in flight too")
@click.pass_context
def history(ctx: click.Context, limit: int, every: bool) -> None:
    """Finished and failed moves, newest first, each with its steps and transactions (the
    store alone: no chain, no signer)."""
    from keepers.core.logging import configure_logging, read_only_level
    from keepers.core.settings import load_settings
    from keepers.crosschain.history import FINISHED, WAITING, format_record
    from keepers.crosschain.history import history as read_history
    from keepers.store.db import Store

    settings = load_settings()
    verbose = bool(ctx.obj.get("verbose"))
    configure_logging(settings.log_json, read_only_level(settings.log_level, verbose))
    store = Store(settings.db_url)
    try:
        records = read_history(store, limit, FINISHED + WAITING if every else FINISHED)
    finally:
        store.close()
    lines = [line for r in records for line in format_record(r)] or ["no finished move"]
    _emit(ctx, records, "\n".join(lines))


if __name__ == "__main__":
    crosschain()
