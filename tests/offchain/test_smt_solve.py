"""scripts/toolchain/smt_solve.py: the solver program halmos runs for the proofs over products
and quotients (bitwuzla and cvc5 from PyPI, and the three side by side). It runs in the halmos
venv (.venv-halmos, made by scripts/toolchain/prove.sh) and `make test` makes it before the suite;
where it is missing these tests fail (they skip only outside make test, with
BALLAST_ALLOW_NO_HALMOS=1)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scripts.toolchain.smt_solve import SAT_QUERY, UNSAT_QUERY, big_model_query
from tests.support.halmos_venv import require_halmos_venv

ROOT = Path(__file__).resolve().parents[2]
SOLVE = ROOT / "scripts/toolchain/smt_solve.py"


@pytest.fixture(scope="module")
def halmos_py() -> Path:
    return require_halmos_venv("bitwuzla", "cvc5")


def _solve(halmos_py: Path, tmp_path: Path, text: str, *args: str) -> str:
    f = tmp_path / "q.smt2"
    f.write_text(text)
    proc = subprocess.run(
        [str(halmos_py), str(SOLVE), *args, str(f)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("solver", [["bitwuzla"], ["cvc5"], ["cvc5", "--bv-as-int"], ["portfolio"]])
def test_each_solver__answers_sat_with_a_model_and_unsat(halmos_py, tmp_path, solver):
    out = _solve(halmos_py, tmp_path, SAT_QUERY, *solver)
    assert out.splitlines()[0] == "sat"
    assert (
        "define-fun x" in out and "define-fun y" in out
    )  # the model halmos reads its counterexample from
    assert _solve(halmos_py, tmp_path, UNSAT_QUERY, *solver).splitlines()[0] == "unsat"


def test_portfolio__a_model_past_a_pipes_64_kib__printed_whole(halmos_py, tmp_path):
    # a member writing to a pipe nobody reads until it ends would block on it
    out = _solve(halmos_py, tmp_path, big_model_query(1000), "portfolio")
    assert out.splitlines()[0] == "sat"
    assert len(out) > 65_536 and out.count("define-fun v") == 1000


def test_portfolio__a_query_no_member_can_read__answers_unknown_not_unsat(halmos_py, tmp_path):
    # a parse error is no proof: halmos must not count it as one
    out = _solve(halmos_py, tmp_path, "(assert (= x\n", "portfolio")
    assert out.strip() == "unknown"


def test_bad_solver_name__refused_with_the_value():
    proc = subprocess.run(
        [sys.executable, str(SOLVE), "z4", "q.smt2"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "z4" in proc.stderr


def test_self_check__every_member_answers(halmos_py, tmp_path):
    proc = subprocess.run(
        [str(halmos_py), str(SOLVE), "self-check"], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert "answer sat and unsat" in proc.stdout


def test_a_solver_without_a_file__refused_naming_it():
    proc = subprocess.run([sys.executable, str(SOLVE), "bitwuzla"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "bitwuzla needs a FILE" in proc.stderr
