"""scripts/toolchain/smt_solve.py: the solver program halmos runs for the proofs over products
and quotients (bitwuzla and cvc5 from PyPI, and the three side by side). It runs in the halmos
venv (.venv-halmos, made by scripts/toolchain/prove.sh) and skips where that is not made yet."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scripts.toolchain.smt_solve import SAT_QUERY, UNSAT_QUERY, big_model_query

ROOT = Path(__file__).resolve().parents[2]
SOLVE = ROOT / "scripts/toolchain/smt_solve.py"
HALMOS_PY = ROOT / ".venv-halmos/bin/python"


def _solver_ready() -> bool:
    if not HALMOS_PY.exists():
        return False
    probe = subprocess.run([str(HALMOS_PY), "-c", "import bitwuzla, cvc5"], capture_output=True)
    return probe.returncode == 0


needs_solvers = pytest.mark.skipif(
    not _solver_ready(), reason="no .venv-halmos with bitwuzla and cvc5 yet"
)


def _solve(tmp_path: Path, text: str, *args: str) -> str:
    f = tmp_path / "q.smt2"
    f.write_text(text)
    proc = subprocess.run(
        [str(HALMOS_PY), str(SOLVE), *args, str(f)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@needs_solvers
@pytest.mark.parametrize("solver", [["bitwuzla"], ["cvc5"], ["cvc5", "--bv-as-int"], ["portfolio"]])
def test_each_solver__answers_sat_with_a_model_and_unsat(tmp_path, solver):
    out = _solve(tmp_path, SAT_QUERY, *solver)
    assert out.splitlines()[0] == "sat"
    assert (
        "define-fun x" in out and "define-fun y" in out
    )  # the model halmos reads its counterexample from
    assert _solve(tmp_path, UNSAT_QUERY, *solver).splitlines()[0] == "unsat"


@needs_solvers
def test_portfolio__a_model_past_a_pipes_64_kib__printed_whole(tmp_path):
    # a member writing to a pipe nobody reads until it ends would block on it
    out = _solve(tmp_path, big_model_query(1000), "portfolio")
    assert out.splitlines()[0] == "sat"
    assert len(out) > 65_536 and out.count("define-fun v") == 1000


@needs_solvers
def test_portfolio__a_query_no_member_can_read__answers_unknown_not_unsat(tmp_path):
    # a parse error is no proof: halmos must not count it as one
    out = _solve(tmp_path, "(assert (= x\n", "portfolio")
    assert out.strip() == "unknown"


def test_bad_solver_name__refused_with_the_value():
    proc = subprocess.run(
        [sys.executable, str(SOLVE), "z4", "q.smt2"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "z4" in proc.stderr


@needs_solvers
def test_self_check__every_member_answers(tmp_path):
    proc = subprocess.run(
        [str(HALMOS_PY), str(SOLVE), "self-check"], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert "answer sat and unsat" in proc.stdout


def test_a_solver_without_a_file__refused_naming_it():
    proc = subprocess.run([sys.executable, str(SOLVE), "bitwuzla"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "bitwuzla needs a FILE" in proc.stderr
