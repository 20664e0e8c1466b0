"""``keeper console``: the web console (keepers.console), registered on the root group when
the composition root (keepers.cli) imports this module.

Its settings are KEEPER_CONSOLE_* (keepers.console.settings): a bad value, or a non-loopback
address without KEEPER_CONSOLE_TOKEN, exits 2 naming the setting. The fund's own settings are
checked as for every command (exit 2), and the deployment record and chain once at start
(a node that does not answer is not fatal: the pages say the chain is unavailable)."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from keepers.cli_base import Ctx, exit_code, fail, main
from keepers.core.errors import EXIT_CONFIG, EXIT_DOMAIN, KeeperError


@main.command(name="console")
@click.option("--host", default=None, help="listen address (KEEPER_CONSOLE_HOST, 127.0.0.1)")
@click.option("--port", type=int, default=None, help="listen port (KEEPER_CONSOLE_PORT, 8090)")
@click.pass_obj
def console(ctx: Ctx, host: str | None, port: int | None) -> None:
    """Serve the web console (Starlette on uvicorn): plans waiting for approval (sign with a
    browser wallet), the fund now, recent plans and their reports; webhook notifications when
    configured. It reads the keeper's store and the chain and records signatures; it never
    sends a transaction. `keeper run` serves it too when KEEPER_CONSOLE_IN_RUN is set."""
    from keepers.console.notify import Notifier
    from keepers.console.server import Console, serve
    from keepers.console.settings import ConsoleSettings
    from keepers.core.logging import configure_logging
    from keepers.core.settings import load_settings

    overrides: dict[str, Any] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    try:
        settings = load_settings(ConsoleSettings, **overrides)
    except KeeperError as err:
        fail(str(err), exit_code(err))
    cfg = ctx.config()  # exit 2 naming the variable
    configure_logging(cfg.keeper.log_json, cfg.keeper.log_level)
    if Path(cfg.keeper.deployment).exists():
        # a bad deployment record or chain exits 2 now, not on a page; without a record the
        # console serves the store alone (an approver's machine with KEEPER_DB_URL only)
        ctx.bot_or_offline()
    app = Console(settings, ctx)
    try:
        server = serve(app, settings.host, settings.port)
    except OSError as err:
        fail(f"KEEPER_CONSOLE_HOST/KEEPER_CONSOLE_PORT={settings.host}:{settings.port}: {err}",
             EXIT_CONFIG)  # fmt: skip
    url = settings.base_url(server.port)
    stop = threading.Event()
    notifier = None
    if settings.webhook_url is not None:
        notifier = Notifier(settings, ctx, url, lock=app.lock)
        notifier.start(stop)

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    server.start()
    click.echo(f"keeper console at {url}/approvals (listening on {settings.host}:{server.port})")
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            if server.thread is not None and not server.thread.is_alive():
                fail("the console's server stopped", EXIT_DOMAIN)
    finally:
        stop.set()
        server.stop()
    click.echo("keeper console stopped", err=True)


def serve_in_run(bot: Any, stop: threading.Event) -> Any:
    """`keeper run`'s console (KEEPER_CONSOLE_IN_RUN=true): the same pages on the running
    keeper's fund bot, store and chain reader (no second connection, no second store), its
    manual rebalance decided under the fund lease the keeper holds. Started and returned (its
    ``stop()`` ends it), or None when the setting is off. A bad KEEPER_CONSOLE_* setting is a
    KeeperError (exit 2 naming it), an address that cannot be bound an OSError."""
    from keepers.console.notify import Notifier
    from keepers.console.server import Console, serve
    from keepers.console.settings import ConsoleSettings
    from keepers.core.settings import load_settings

    settings = load_settings(ConsoleSettings)
    if not settings.in_run:
        return None
    if bot is None:  # --bots without fund: there is no fund to show
        click.echo("keeper: KEEPER_CONSOLE_IN_RUN is set but this keeper runs no fund bot: "
                   "no console", err=True)  # fmt: skip
        return None
    ctx = Ctx(False, None)
    ctx.share(bot)
    app = Console(settings, ctx, embedded=True)
    server = serve(app, settings.host, settings.port)
    url = settings.base_url(server.port)
    if settings.webhook_url is not None:
        Notifier(settings, ctx, url, lock=app.lock).start(stop)
    server.start()
    click.echo(f"keeper console at {url}/approvals (listening on {settings.host}:{server.port})")
    sys.stdout.flush()
    return server
