"""What the deploy's ape scripts (scripts/deploy.py, scripts/handover.py, scripts/deposit.py)
share: the account they sign with (`load_account`), and how they end on an error: one line and
an exit code, as the keeper does (keepers/cli_base.py), never a traceback.

`DeployCommand` is ape's ConnectedProviderCommand, except that a node which does not answer
when ape connects ends the command with one line naming ``--network`` and the node (scheme,
host and port only: providers put API keys in the path), exit code 3 (the keeper's
EXIT_UNAVAILABLE); a node that answers as another chain than the network's is one line, exit 2
(the keeper's EXIT_CONFIG). Errors after the connection are the command's own to report.
"""

from __future__ import annotations

import os
import re
from typing import Any, NoReturn

import click
from ape.cli import ConnectedProviderCommand

from keepers.core.errors import EXIT_CONFIG, EXIT_UNAVAILABLE
from keepers.tx.node import shown_url

_URL = re.compile(r"(?:https?|wss?)://[^\s'\"]+")


class CommandFailed(click.ClickException):
    """A ClickException ("Error: <message>", one line) with an exit code of its own."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def exit_with(message: str, code: int) -> NoReturn:
    raise CommandFailed(message, code)


def redact_urls(text: str) -> str:
    """Every URL in ``text`` as scheme, host and port only."""
    return _URL.sub(lambda m: shown_url(m.group(0)), text)


def node_unreachable(choice: Any, err: BaseException) -> str:
    """One line for a node that does not answer when ape connects to it."""
    shown = redact_urls(str(choice)) if choice else "(the default network)"
    detail = redact_urls(str(err)).strip().splitlines()
    first = detail[0] if detail else ""
    why = f"{type(err).__name__}: {first}" if first else type(err).__name__
    return f"--network {shown}: node unreachable ({why})"


def _connection_errors() -> tuple[type[BaseException], ...]:
    from ape.exceptions import ProviderError, ProviderNotConnectedError
    from requests.exceptions import RequestException

    return (ProviderError, ProviderNotConnectedError, RequestException, ConnectionError)


class DeployCommand(ConnectedProviderCommand):
    """ape's ConnectedProviderCommand; a failed connection is one line, exit 3."""

    def _invoke(self, ctx: Any, provider: Any = None) -> Any:
        # ape calls this once connected (ape 0.8 ConnectedProviderCommand.invoke): from here
        # on, errors are the command's
        ctx.meta["ballast.connected"] = True
        return super()._invoke(ctx, provider=provider)

    def invoke(self, ctx: Any) -> Any:
        # ape's list of the nodes it started keeps only running ones: the disconnect at the
        # command's end compares each entry (ballast_dev/local/anvil_local.py)
        from ballast_dev.local.anvil_local import forget_exited_ape_nodes

        forget_exited_ape_nodes()
        choice = ctx.params.get("network")  # by now ape's NetworkAPI ("ethereum:sepolia")
        choice = getattr(choice, "choice", choice)
        try:
            return super().invoke(ctx)
        except _connection_errors() as e:
            if ctx.meta.get("ballast.connected"):
                raise
            from ape.exceptions import NetworkMismatchError

            if isinstance(e, NetworkMismatchError):  # it answered, as another chain
                shown = redact_urls(str(choice))
                why = redact_urls(str(e)).strip().splitlines()[0]
                message = f"--network {shown}: the node is another chain ({why})"
                raise CommandFailed(message, EXIT_CONFIG) from None
            raise CommandFailed(node_unreachable(choice, e), EXIT_UNAVAILABLE) from None


def load_account(accounts: Any, alias: str | None, autosign: bool) -> Any:
    """The ape account ``--account <alias>`` names (test account 0 without one: local chains),
    unlocked from ``APE_ACCOUNTS_<alias>_PASSPHRASE`` with ``--autosign`` (never prompted for,
    never printed)."""
    if not alias:
        if autosign:
            raise click.ClickException("--autosign needs --account <alias>")
        return accounts.test_accounts[0]
    try:
        account = accounts.load(alias)
    except Exception as e:  # ape raises its own AccountsError for an unknown alias
        known = ", ".join(a.alias for a in accounts if getattr(a, "alias", None)) or "none"
        raise click.ClickException(f"--account {alias!r}: {e} (known: {known})") from None
    if autosign:
        var = f"APE_ACCOUNTS_{alias}_PASSPHRASE"
        passphrase = os.environ.get(var)
        if not passphrase:
            raise click.ClickException(f"--autosign: set {var} to the passphrase of {alias!r}")
        if not hasattr(account, "set_autosign"):
            raise click.ClickException(f"--autosign: account {alias!r} cannot autosign")
        try:
            account.set_autosign(True, passphrase=passphrase)
        except Exception as e:  # eth_keyfile's ValueError / ape's InvalidPasswordError
            raise click.ClickException(
                f"--autosign: cannot unlock {alias!r} with {var} ({type(e).__name__})"
            ) from None
    return account
