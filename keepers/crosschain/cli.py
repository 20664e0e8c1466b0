"""``crosschain status|plan|run|move|approve``: the cross-chain inventory bot's commands.

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
Exit codes: 0 ok, 1 planning error or bad input, 2 bad configuration, 3 a chain's node does
not answer (``status`` then shows the moves from the store and names what is missing).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from keepers.core import redact
from keepers.crosschain.config import ENV_PATH, ConfigError


def build_bot(config_path: str | None, exclusive: bool = False) -> Any:
    """A `CrosschainBot` from the environment (see the module doc), with its own store and one
    pipeline per chain; the crosschain role is added to KEEPER_POLICY* and stored for every
    process (keepers.runtime.policy)."""
    from keepers.core.settings import load_settings
    from keepers.crosschain.assemble import build_crosschain_bot
    from keepers.crosschain.bot import crosschain_policy
    from keepers.crosschain.route_contracts import load_with_routes
    from keepers.runtime.policy import merged, store_policy, stored_policy
    from keepers.store.db import Store
    from keepers.tx.signers import signer_from_settings

    # the route files fill in (and must agree with) the config's route contracts
    cfg, pinned = load_with_routes(config_path)
    settings = load_settings()
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
) -> Any:
    """The bot, or exit: 2 for a bad configuration, 3 when a chain's node does not answer
    (``on_unreachable(down)`` first, for the read-only commands)."""
    from keepers.core.errors import EXIT_UNAVAILABLE
    from keepers.crosschain.route_contracts import ChainsUnreachable
    from keepers.tx.retry import NetworkUnavailable

    try:
        return build_bot(ctx.obj["config"], exclusive=exclusive)
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
        moves = [vars(v) for v in bot.engine.moves(active_only=True)]
    else:
        moves = _stored_moves()
    lines = [f"chain data unavailable: {name}: {why}" for name, why in down.items()]
    lines.append(f"  missing: {', '.join(CHAIN_FIELDS)} of every chain and asset")
    lines.append("from the store:")
    lines += [
        f"  move {mv['id']} {mv['asset']} {mv['source']}->{mv['dest']} "
        f"{mv['amount_source']} via {mv['route']}: {mv['state']}"
        for mv in moves
    ] or ["  no move in flight"]
    data = {
        "chain": "unavailable",
        "unreachable": down,
        "unavailable": list(CHAIN_FIELDS),
        "moves": moves,
    }
    _emit(ctx, data, "\n".join(lines))
    click.echo(f"crosschain: {'; '.join(down.values())}: status shows the store only", err=True)
    sys.exit(EXIT_UNAVAILABLE)


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


@crosschain.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Per chain and asset: balance, base, trigger threshold, in flight; then the moves."""
    from keepers.crosschain.route_contracts import unreachable

    bot = _bot(ctx, on_unreachable=lambda down: _status_offline(ctx, down))
    try:
        down = unreachable(bot.w3s)
        if down:  # a node does not answer: what the store knows, then exit 3
            _status_offline(ctx, down, bot)
        rows = bot.status_rows()
        moves = [vars(v) for v in bot.engine.moves(active_only=True)]
    finally:
        bot.stop()
    lines = [
        f"{'chain':<12}{'asset':<6}{'balance':>16}{'base':>14}{'trigger<=':>14}"
        f"{'in':>12}{'out':>12}  triggered"
    ]
    for r in rows:
        lines.append(
            f"{r['chain']:<12}{r['asset']:<6}{r['balance']:>16}{r['base']:>14}"
            f"{r['trigger_at']:>14}{r['in_flight_in']:>12}{r['in_flight_out']:>12}  "
            f"{'YES' if r['triggered'] else '-'}"
        )
    for mv in moves:
        lines.append(
            f"move {mv['id']} {mv['asset']} {mv['source']}->{mv['dest']} "
            f"{mv['amount_source']} via {mv['route']}: {mv['state']}"
        )
    _emit(ctx, {"balances": rows, "moves": moves}, "\n".join(lines))


@crosschain.command()
@click.pass_context
def plan(ctx: click.Context) -> None:
    """The transfers the planner would start now (in-flight aware); nothing is sent."""
    from keepers.crosschain.inventory import orders
    from keepers.crosschain.planning import CrosschainPlanningError

    bot = _bot(ctx)
    try:
        legs = orders(bot.config, bot.plan())
    except CrosschainPlanningError as err:
        click.echo(f"crosschain: {err}", err=True)
        sys.exit(1)
    finally:
        bot.stop()
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
    failed = False
    try:
        bot.start()
        while not stopping.is_set():
            try:
                report = bot.tick()
            except Exception as err:  # noqa: BLE001 - one bad tick must not stop the bot
                failed = True
                log.error("crosschain.tick_failed", error=f"{type(err).__name__}: {err}")
                click.echo(f"crosschain: tick failed: {type(err).__name__}: {err}", err=True)
            else:
                failed = False
                _emit(
                    ctx,
                    {
                        "created": [vars(v) for v in report.created],
                        "moves": [vars(v) for v in report.moves],
                        "error": report.error,
                    },
                    f"tick: {len(report.created)} created, "
                    + ", ".join(f"move {v.id} {v.state}" for v in report.moves)
                    + (f"; plan error: {report.error}" if report.error else ""),
                )
            if once or (deadline is not None and time.monotonic() > deadline):
                break
            stopping.wait(interval)
    finally:
        bot.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if once and failed:
        sys.exit(1)


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


if __name__ == "__main__":
    crosschain()
