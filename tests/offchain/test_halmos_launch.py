"""scripts/toolchain/halmos_launch.py: the symbolic proofs' branching queries are bounded by z3's
resource limit, not by wall-clock time (its docstring says why). The part that needs halmos runs
in the halmos venv (.venv-halmos, made by scripts/toolchain/halmos_venv.sh before make test's
suite) and fails where it is not made yet (a skip hid it from every fresh clone's run);
prove.sh itself runs the launcher's self-check before every proof run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.halmos_venv import require_halmos_venv

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "scripts/toolchain/halmos_launch.py"


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--branching-rlimit"],
        ["--branching-rlimit", "0"],
        ["--branching-rlimit", "1e4"],
        ["--solver-timeout-branching", "1ms"],
    ],
)
def test_bad_arguments__refused_with_the_value_before_halmos_is_imported(args):
    # the main venv has no halmos: a refusal must come before any halmos import
    proc = subprocess.run([sys.executable, str(LAUNCHER), *args], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "--branching-rlimit N" in proc.stderr and repr(args[:2]) in proc.stderr


@pytest.mark.parametrize(
    ("rlimit", "rc", "says"),
    [
        (10_000, 0, "branching queries bounded per query"),
        # a limit too large to give up on the hard query: the check must notice (prove.sh runs it
        # before every proof run, so this is what keeps a launcher that bounds nothing from passing)
        (10**9, 1, "to a query over its resource limit (want unknown)"),
    ],
)
def test_self_check__passes_at_the_limit_prove_sh_sets_and_fails_where_nothing_is_bounded(
    rlimit, rc, says
):
    halmos_py = require_halmos_venv()
    proc = subprocess.run(
        [str(halmos_py), str(LAUNCHER), "--branching-rlimit", str(rlimit), "--self-check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == rc, proc.stdout + proc.stderr
    assert says in proc.stdout
