"""The command line's shared parts: the root group ``keeper`` (``main``), its context
(``Ctx``: the settings, the store, the fund bot, output), the failure and exit helpers, and the
late root options. Every slice's commands import these from here; the composition root
(keepers.cli) adds ``keeper run`` and attaches the slices' commands, so no slice imports the
root and the root imports every slice (the old keepers.cli <-> keepers.fund.cli circle)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, is_dataclass
from typing import Any, NoReturn

import click

from keepers.core import redact
from keepers.core.errors import (
    EXIT_DOMAIN,
    EXIT_UNAVAILABLE,
    exit_code,
    exit_codes_text,
)
from keepers.fund.settings import FundConfig, FundConfigError, load_fund_config


class Ctx:
    def __init__(self, as_json: bool, now: int | None) -> None:
        self.as_json = as_json
        self.now = now
        self._bot: Any = None
        self._config: FundConfig | None = None
        self._store: Any = None
        self.offline: str | None = None  # why the node did not answer (read-only commands)
        self._deployment: str | None = None  # "" once found unknown (Ctx.deployment)
        # a read-only command's --verbose (read_only_command): None for the other commands,
        # which log at KEEPER_LOG_LEVEL; False keeps info lines off the terminal
        self.verbose: bool | None = None

    def log_level(self, configured: str) -> str:
        """The level this command logs at (keepers.core.logging.read_only_level)."""
        from keepers.core.logging import read_only_level

        return configured if self.verbose is None else read_only_level(configured, self.verbose)

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

    def has_bot(self) -> bool:
        """Whether the fund bot is built (a node that did not answer leaves it unbuilt)."""
        return self._bot is not None

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
            configure_logging(cfg.keeper.log_json, self.log_level(cfg.keeper.log_level))
            try:
                bot = FundBot(cfg, self.store())
                bot.check_chain()
            except DeploymentError as err:
                fail(f"KEEPER_DEPLOYMENT: {err}", exit_code(err))
            except ChainMismatchError as err:
                fail(str(err), exit_code(err))
            except FundConfigError as err:  # KEEPER_SIMULATOR that cannot work: exit 2
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
            from keepers.core.logging import configure_logging
            from keepers.store.db import Store

            cfg = self.config()
            if self.verbose is not None:  # a read-only command: its level before the store
                # logs anything (alembic's "Running upgrade" lines on a new store)
                configure_logging(cfg.keeper.log_json, self.log_level(cfg.keeper.log_level))
            self._store = Store(cfg.keeper.db_url)
        return self._store

    def deployment(self) -> str | None:
        """The deployment this keeper drives (keepers.tx.release.deployment_id), for marking the
        plans of another one: from the fund bot when it is built, else from the deployment
        record when it names its chain and release (a deploy of 0.2.0 or later: no node
        needed), else the record's vault and the chain's answer to ``RELEASE()``. None when
        nothing can say (no record, the node down): the read-only commands then mark nothing,
        and never exit for it."""
        if self._bot is not None:
            return str(self._bot.deployment)
        if self._deployment is None:
            self._deployment = self._read_deployment() or ""
        return self._deployment or None

    def _read_deployment(self) -> str | None:
        from web3.exceptions import Web3Exception

        from keepers.tx.contracts import DeploymentError, FundAddresses
        from keepers.tx.node import connect_web3
        from keepers.tx.release import deployment_id, read_release
        from keepers.tx.retry import NetworkUnavailable

        k = self.config().keeper
        try:
            a = FundAddresses.load(k.deployment)
        except DeploymentError:
            return None
        if a.release and a.chain_id is not None:
            return deployment_id(a.chain_id, a.vault, a.release)
        try:
            w3 = connect_web3(k.rpc_url, k.rpc_timeout_s)
            chain = a.chain_id if a.chain_id is not None else int(w3.eth.chain_id)
            return deployment_id(chain, a.vault, read_release(w3, a.vault))
        except (OSError, NetworkUnavailable, Web3Exception, ValueError):
            return None

    def records(self) -> Any:
        """The fund's records in the store (``.plans``, ``.carry``): what the read-only
        commands show, with the node up or down."""
        if self._bot is not None:
            return self._bot
        from types import SimpleNamespace

        from keepers.fund.records import CarryStore, PlanStore

        return SimpleNamespace(plans=PlanStore(self.store()), carry=CarryStore(self.store()))

    def close(self) -> None:
        if getattr(self, "_shared", False):
            return
        if self._store is not None:
            self._store.close()
            self._store = None
        self._bot = None
        self._deployment = None

    def share(self, bot: Any) -> None:
        """Serve from a running keeper's fund bot, its settings and its store (the console in
        `keeper run`): nothing is opened twice, and ``close`` leaves them to the keeper."""
        self._bot, self._config, self._store = bot, bot.config, bot.store
        self._shared = True

    def time(self) -> int:
        return self.now if self.now is not None else int(time.time())

    def out(self, data: Any, text: Callable[[], str]) -> None:
        if self.as_json:
            click.echo(json.dumps(_plain(data), indent=2, default=str))
        else:
            click.echo(text())


@dataclass(frozen=True)
class StatusSection:
    """A part of ``keeper status`` that another slice shows (the fund's command prints it): the
    composition root (keepers.cli) adds it to STATUS_SECTIONS, so that the fund slice imports no
    other slice. ``read(now)``: its data, or None when there is nothing to show (the key is
    left out); it may end the command with ``fail``. ``lines(data)``: its text lines."""

    key: str
    read: Callable[[int], dict[str, Any] | None]
    lines: Callable[[dict[str, Any]], list[str]]


STATUS_SECTIONS: list[StatusSection] = []


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


def refuse_keys_in_settings() -> None:
    """Exit 2 when any setting but the signer's holds a private key (or a mnemonic), naming
    the setting, before anything runs or is stored (keepers.core.settings)."""
    from keepers.core.settings import refuse_secret_shaped_everywhere

    try:
        refuse_secret_shaped_everywhere()
    except FundConfigError as err:  # the one ConfigError
        click.echo(f"keeper: invalid configuration: {err}", err=True)
        sys.exit(exit_code(err))


def fail(message: str, code: int = EXIT_DOMAIN) -> NoReturn:
    click.echo(f"keeper: {message}", err=True)
    sys.exit(code)


def version_info() -> dict[str, str]:
    """What ``keeper --version`` prints: the keepers' version and the contract release their
    ABIs (keepers/abis) belong to (keepers.version)."""
    from keepers.version import CONTRACTS_RELEASE, __version__

    return {"version": __version__, "contracts_release": CONTRACTS_RELEASE}


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``keeper --version`` (``keeper --json --version``: JSON): print and exit 0 before any
    setting is read, so that it answers on a host with no configuration at all."""
    if not value or ctx.resilient_parsing:
        return
    info = version_info()
    if ctx.params.get("as_json"):  # --json is eager: read before this, in either order
        click.echo(json.dumps(info, indent=2))
    else:
        click.echo(
            f"keeper (ballast-keepers) {info['version']}, "
            f"contracts release {info['contracts_release']}"
        )
    ctx.exit(0)


@click.group()
@click.option("--json", "as_json", is_flag=True, is_eager=True, help="machine-readable output")
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    callback=_print_version,
    help="print the version and the contract release this keeper drives, and exit",
)
@click.option("--now", type=int, default=None, hidden=True, help="unix time (replays)")
@click.pass_context
def main(ctx: click.Context, as_json: bool, now: int | None) -> None:
    """Ballast fund keeper."""
    redact.install()  # before anything can print: no secret in any message
    refuse_keys_in_settings()
    ctx.obj = Ctx(as_json, now)
    ctx.call_on_close(ctx.obj.close)


# `keeper --help` ends with the one table of exit codes (keepers.core.errors.EXIT_TABLE)
main.epilog = "\b\nExit codes:\n" + exit_codes_text()


def _set_verbose(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if isinstance(ctx.obj, dict):  # the crosschain group's
        ctx.obj["verbose"] = value
    elif ctx.obj is not None:
        ctx.obj.verbose = value


def read_only_command(cmd: click.Command) -> click.Command:
    """Marks a read-only command (status, history, review, a cross-chain plan): it prints what
    was asked; the start-up's info logs stay off the terminal unless ``--verbose`` (warnings
    and errors still go to stderr). Apply above ``@group.command()``."""
    cmd.params.append(
        click.Option(
            ["--verbose", "-v"],
            is_flag=True,
            expose_value=False,
            is_eager=True,
            callback=_set_verbose,
            help="also print the info logs (KEEPER_LOG_LEVEL) on stderr",
        )
    )
    return cmd


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
