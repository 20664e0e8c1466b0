"""The leaky-bucket proof (tests/symbolic/WindowBudget.t.sol, LeakyBudgetProofs) runs on a copy
of AssetController._useBudget, because the controller is too large for halmos to set up. The
copy must stay the controller's function character for character, or the proof covers code
that no longer runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def function_body(source: str, name: str) -> str:
    """The text of ``function <name>(...) ... { ... }`` (braces balanced), whitespace-normalised."""
    m = re.search(rf"function {re.escape(name)}\(", source)
    assert m, f"no function {name}"
    start = source.index("{", m.end())
    depth = 0
    for i in range(start, len(source)):
        depth += {"{": 1, "}": -1}.get(source[i], 0)
        if depth == 0:
            return " ".join(source[m.start() : i + 1].split())
    raise AssertionError(f"unbalanced braces in {name}")


def test_leaky_bucket_harness_is_the_controllers_use_budget():
    controller = (ROOT / "contracts/fund/AssetController.sol").read_text()
    harness = (ROOT / "tests/symbolic/WindowBudget.t.sol").read_text()
    ours = function_body(controller, "_useBudget")
    assert "WindowBudgetLib.current" in ours  # the library the proof runs over
    assert function_body(harness, "_useBudget") == ours
    # the one write of the usage a call's legs booked (AssetController._afterMoves), the same line
    write = next(
        line.strip() for line in controller.splitlines() if "if (s.budgetRead) _usage =" in line
    )
    assert write in [line.strip() for line in harness.splitlines()], write


def test_function_body__finds_the_whole_function_and_notices_an_edit():
    src = "contract C { function f(uint x) private { if (x) { g(); } } function h() {} }"
    assert function_body(src, "f") == "function f(uint x) private { if (x) { g(); } }"
    assert function_body(src.replace("g()", "k()"), "f") != function_body(src, "f")
