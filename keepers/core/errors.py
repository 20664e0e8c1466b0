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


def exit_code(err: BaseException) -> int:
    """The process status for ``err`` (1 for anything outside the tree)."""
    for cls in type(err).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return EXIT_DOMAIN
