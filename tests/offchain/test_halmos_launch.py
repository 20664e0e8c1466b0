"""scripts/toolchain/halmos_launch.py: the symbolic proofs' branching queries are bounded by z3's
resource limit, not by wall-clock time (its docstring says why). The part that needs halmos runs
in the halmos venv (.venv-halmos, made by scripts/toolchain/prove.sh) and skips where it is not
made yet."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "scripts/toolchain/halmos_launch.py"
HALMOS_PY = ROOT / ".venv-halmos/bin/python"


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


# Runs in the halmos venv. A query that needs more than a few resource units (a 64-bit
# factorisation) comes back `unknown` from a branching solver with a limit of 1 and `sat` from
# one with a large limit, whatever the machine's load; halmos' scratch solvers (timeout 0) stay
# unbounded; and the limit applies per query, not to the solver's lifetime.
PROBE = r"""
import sys
sys.path.insert(0, sys.argv[1])
import halmos_launch
from z3 import BitVec, ULT
x, y = BitVec("x", 64), BitVec("y", 64)

def factorise(solver):
    solver.push()
    solver.add(x * y == 0x1234567890ABCDEF, ULT(1, x), ULT(1, y), ULT(x, y))
    r = str(solver.check())
    solver.pop()
    return r

assert halmos_launch.install(int(sys.argv[2])) is None
import halmos.__main__, halmos.sevm, halmos.utils
branching = [m.create_solver(timeout=1) for m in (halmos.utils, halmos.sevm, halmos.__main__)]
print(" ".join(factorise(s) for s in branching), factorise(halmos.utils.create_solver(timeout=0)))
s = branching[0]
print(" ".join(factorise(s) for _ in range(5)))
"""


@pytest.mark.skipif(
    not HALMOS_PY.exists(), reason="no .venv-halmos yet (made by scripts/toolchain/prove.sh)"
)
@pytest.mark.parametrize(("rlimit", "answer"), [(1, "unknown"), (10**9, "sat")])
def test_branching_solvers__bounded_by_the_resource_limit_per_query(rlimit, answer):
    proc = subprocess.run(
        [str(HALMOS_PY), "-c", PROBE, str(LAUNCHER.parent), str(rlimit)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    first, repeated = proc.stdout.split("\n")[:2]
    assert first == f"{answer} {answer} {answer} sat"
    assert repeated == " ".join([answer] * 5)
