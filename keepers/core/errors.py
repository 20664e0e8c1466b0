"""One error root for the keepers and the one exit-code map every process uses.

``KeeperError`` has four branches; every error the keepers raise on purpose sits under one
of them (tests/offchain/test_errors.py walks the package and checks):

- ``ConfigError``: a setting, a deployment record or a config document is wrong (the message
  names the variable and the value, secrets redacted). Exit 2.
- ``ChainError``: the node, a route or the chain itself: unreachable node, JSON-RPC errors,
  a bridge route down. Exit 3. ``Halted`` (another process signs with our key, the pipeline
  stopped itself) is the chain branch's fatal leaf. Exit 4.
- ``StoreError``: the database: the SQLite store is locked by another process. Exit 3 (like an
  unreachable node: a resource the keeper needs is not available; retry later).
- ``DomainError``: the request itself is refused (an unknown plan, a plan that cannot be
  made, an impossible portfolio). Exit 1.

The CLI (``keeper ...``) and the standalone worker (``python -m keepers.tx.worker``) both turn an
error into a status with :func:`exit_code`, so the same failure exits the same way in either.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_DOMAIN = 1
EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 3
EXIT_HALTED = 4


class KeeperError(Exception):
    """Root of every error the keepers raise on purpose."""


class ConfigError(KeeperError, ValueError):
    """A setting, a deployment record or a config document is wrong."""


class ChainError(KeeperError):
    """The node, a route or the chain: not reachable, refused, or not the one configured."""


class Halted(ChainError):
    """The keeper must stop: another process uses our signer, or the pipeline halted itself."""


class StoreError(KeeperError):
    """The store cannot be used (locked by another process, unreachable database)."""


class DomainError(KeeperError):
    """The request itself is refused (unknown plan, impossible plan or portfolio)."""


# The one map, most specific first: the first class in an error's MRO that is listed wins.
EXIT_CODES: dict[type[BaseException], int] = {
    ConfigError: EXIT_CONFIG,
    Halted: EXIT_HALTED,
    ChainError: EXIT_UNAVAILABLE,
    StoreError: EXIT_UNAVAILABLE,
    DomainError: EXIT_DOMAIN,
    KeeperError: EXIT_DOMAIN,
}


EXIT_NOT_IDLE = 5  # the standalone worker only (keepers.tx.worker)

# The one table of exit codes: code, the errors that give it, what it means, whether the
# shipped systemd unit restarts (deploy/systemd: RestartPreventExitStatus=2 4). `keeper --help`,
# docs/reference/cli.md (generated), docs/operator/running.md and stop-restart.md show it as
# rendered by `exit_codes_markdown`; tests/offchain/docs/test_exit_codes.py checks that they do
# and that every "exit N" of every page is in it.
EXIT_TABLE: tuple[tuple[int, str, str, str], ...] = (
    (EXIT_OK, "", "done; also a stop asked for (SIGTERM, SIGINT) that ended in time", "no"),
    (
        EXIT_DOMAIN,
        "DomainError",
        "refused: the request cannot be done (an unknown plan or bot, a plan that cannot be "
        "made, a signer that is not an admin; the message says why), a `run --once` cycle "
        "that failed, or a stop that outlasted `KEEPER_STOP_TIMEOUT_S`",
        "yes",
    ),
    (
        EXIT_CONFIG,
        "ConfigError",
        "bad configuration (the message names the setting; a secret is shown as `<redacted>`) "
        "or a command line the CLI refuses (an unknown option, a missing argument)",
        "no: fix the setting",
    ),
    (
        EXIT_UNAVAILABLE,
        "ChainError, StoreError",
        "the node at `KEEPER_RPC_URL` does not answer, or the SQLite store is in use by another "
        "process: retry later",
        "yes",
    ),
    (
        EXIT_HALTED,
        "Halted",
        "another process signs with the keeper's key (`signer_conflict`)",
        "no: stop the other one",
    ),
    (
        EXIT_NOT_IDLE,
        "",
        "the standalone worker only: `--until-idle` ran out of `--max-seconds` with intents in "
        "flight",
        "(not run by systemd)",
    ),
)


def exit_codes_markdown() -> str:
    """`EXIT_TABLE` as the Markdown table every page shows."""
    rows = ["| exit | meaning | errors | systemd restarts? |", "|---|---|---|---|"]
    for code, errors, meaning, restart in EXIT_TABLE:
        shown = ", ".join(f"`{e}`" for e in errors.split(", ")) if errors else ""
        rows.append(f"| {code} | {meaning} | {shown} | {restart} |")
    return "\n".join(rows)


def exit_codes_text() -> str:
    """`EXIT_TABLE` for `keeper --help`: one line per code."""
    return "\n".join(f"{code}  {meaning}" for code, _, meaning, _ in EXIT_TABLE)


def exit_code(err: BaseException) -> int:
    """The process status for ``err`` (1 for anything outside the tree)."""
    for cls in type(err).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return EXIT_DOMAIN
