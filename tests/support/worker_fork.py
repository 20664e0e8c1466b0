"""The pipeline's worker forked from a server that has the worker's modules imported already.

``python -m keepers.tx.worker`` spends about a second of CPU importing web3, SQLAlchemy and
the bot registry before its first step, and its work in a crash trial (three intents on a
local anvil) takes about a tenth of that: the crash tests (tests/offchain/pipeline/
test_pipeline_crash.py) start two workers per trial, 32 in the default run. :func:`fork_worker`
runs the same ``keepers.tx.worker.main`` in a process of its own, forked by the repository's one
pre-fork server (:class:`ballast_dev.demo.forks.KeeperForks`, started once per test process by
tests/support/keeper_fork.py, which imported ``keepers.tx.worker`` and every bot's module through
``keepers.registry``): each worker is still a separate process with its own store connection,
exactly ``env`` as its environment, the checkout as its working directory, /dev/null as stdin,
its own stdout and stderr, and it is killed as before (``KEEPER_CRASH_AT``'s ``os._exit(137)``: no clean-up, no
pending commit). The entry point itself (``python -m keepers.tx.worker``) stays covered by the
tests that start it with :func:`tests.support.pipeline_helpers.run_worker`.

(multiprocessing's fork server is no help here: each of its children imports the parent's
``__main__`` again, under ``ape test`` the ape command's own module, which costs what the
preload saved.)
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from ballast_dev.demo.forks import KeeperForks
from tests.support.keeper_fork import forks, run_forked

ROOT = Path(__file__).resolve().parents[2]


def worker_forks() -> KeeperForks:
    """The test process's one keeper server (tests/support/keeper_fork.py: its preload has the
    worker and every bot's module, the registry's declarations, as the worker's main loads
    them), shared with the ``keeper`` commands the tests fork."""
    return forks()


def fork_worker(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m keepers.tx.worker *args`` with ``env``, as :func:`run_worker` runs it (its
    exit status, stdout and stderr), in a process forked from the preloaded server."""
    argv = ["--call", "keepers.tx.worker:main", "keepers.tx.worker", *args]
    return run_forked(["keepers.tx.worker", *args], argv, env=dict(env), cwd=ROOT, timeout=timeout)
