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
from keepers.core.errors import EXIT_CONFIG, KeeperError


@main.command(name="console")
@click.option("--host", default=None, help="listen address (KEEPER_CONSOLE_HOST, 127.0.0.1)")
@click.option("--port", type=int, default=None, help="listen port (KEEPER_CONSOLE_PORT, 8090)")
@click.pass_obj
def console(ctx: Ctx, host: str | None, port: int | None) -> None:
    """Serve the web console: plans waiting for approval (sign with a browser wallet), the
    fund now, recent plans and their reports; webhook notifications when configured. It
    reads the keeper's store and the chain and records signatures; it never sends a
    transaction."""
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
    bound = server.server_address[1]
    url = settings.base_url(bound)
    stop = threading.Event()
    notifier = None
    if settings.webhook_url is not None:
        notifier = Notifier(settings, ctx, url, lock=app.lock)
        notifier.start(stop)

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    click.echo(f"keeper console at {url}/approvals (listening on {settings.host}:{bound})")
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        stop.set()
        server.server_close()
    click.echo("keeper console stopped", err=True)
