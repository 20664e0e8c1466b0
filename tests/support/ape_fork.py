"""``ape run ...`` as a process forked from a pre-fork server that imported ape, its plugins and
the deploy's modules once (:class:`ballast_dev.demo.forks.KeeperForks`, as
tests/support/keeper_fork.py forks ``keeper``), for the tests whose property is what the deploy
or the hand-over does: its refusals, its stop and resume, its record, its transactions. The
child runs ape's own entry point (``ape._cli:cli``, what the ``ape`` console script calls) with
``sys.argv`` the script's path and the arguments, in a process of its own with exactly the
environment and working directory given, stdin /dev/null, its output captured.

It skips the imports a fresh ``ape`` spends before the command's first statement: a
Safe-profile deploy on a standalone anvil took 6.1-6.2 CPU-s as ``ape run deploy`` and 3.5-4.0
forked (the server's imports, once per test process, 2.4 CPU-s; 2026-11-30).

The console script itself still runs end to end, from the checkout's venv as an operator runs
it: the operator walk's dry run and deploy (tests/support/operator_deploy.py:
``run_deploy(..., real=True)``) and hand-over (tests/offchain/operator/test_operator_walk.py's
own subprocess), the one-line exits of tests/offchain/deploy/test_operator_commands.py and the
fork rehearsal's Safe-profile deploy (tests/fork/run.sh).

What a forked child shares with the server is only what the imports made: ape reads its data
folder, its config and the network at the command's start, in the child. The one thing ape reads
at import is ``-v`` / ``--verbosity`` in ``sys.argv`` (its logger's level), so a command with
either is refused here: run it as the console script.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ballast_dev.demo.forks import KeeperForks
from tests.support.keeper_fork import run_forked, server

ROOT = Path(__file__).resolve().parents[2]

# ape's CLI and the plugins a deploy on a custom network loads (ape_test's provider module too:
# ape imports every provider of the network when it parses --network), the deploy's own
# modules, and what ape imports on the way (IPython for its error types, pandas for its query
# manager)
APE_PRELOAD = (
    "ape._cli",
    "ape_run._cli",
    "ape_ethereum.ecosystem",
    "ape_ethereum.provider",
    "ape_foundry.provider",
    "ape_node",
    "ape_test.provider",
    "ape_accounts",
    "ballast_dev.deployment.cli_support",
    "ballast_dev.deployment.profile",
    "ballast_dev.deployment.record",
    "IPython",
    "pandas",
)


def forks() -> KeeperForks:
    """This test process's ape server (started at the first call, closed at exit)."""
    return server(APE_PRELOAD)


def ape_exe(env: dict[str, str]) -> str:
    """The ``ape`` the command would run: the first on ``env``'s PATH."""
    found = shutil.which("ape", path=env.get("PATH"))
    if found is None:
        raise FileNotFoundError(f"no ape on PATH {env.get('PATH')!r}")
    return found


def ape_run(
    args: list[str],
    *,
    env: dict[str, str],
    cwd: str | Path = ROOT,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run(["ape", "run", *args], env=env, cwd=cwd, stdin=DEVNULL,
    capture_output=True, text=True, timeout=timeout)``, forked; killed (SIGKILL) and reaped
    when it outlives ``timeout``. ``args`` with ``-v`` / ``--verbosity`` are refused."""
    if any(a in ("-v", "--verbosity") or a.startswith("--verbosity=") for a in args):
        raise ValueError(f"args {args!r}: ape reads -v at import; run the console script")
    exe = ape_exe(env)
    argv = ["--call", "ape._cli:cli", exe, "run", *args]
    return run_forked([exe, "run", *args], argv, env=env, cwd=cwd, timeout=timeout, server=forks())
