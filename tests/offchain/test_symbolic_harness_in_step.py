"""The leaky-bucket proof (tests/symbolic/WindowBudget.t.sol, LeakyBudgetProofs) runs on the
controller's own booking: `_useBudget` and `_storeUsage` live in AssetControllerStorage, which
the proof's harness inherits (the controller itself is too large for halmos to set up) and the
controller's moves run. A booking or a usage write of the controller's or the harness's own
would be code the proof does not cover."""

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


def test_leaky_bucket_proof_runs_the_controllers_own_booking():
    storage = (ROOT / "contracts/fund/AssetControllerStorage.sol").read_text()
    controller = (ROOT / "contracts/fund/AssetController.sol").read_text()
    harness = (ROOT / "tests/symbolic/WindowBudget.t.sol").read_text()
    assert "WindowBudgetLib.current" in function_body(storage, "_useBudget")
    assert "_usage = WindowBudgetLib.Usage(" in function_body(storage, "_storeUsage")
    assert "contract LeakyBudgetProofs is SymTest, AssetControllerStorage {" in harness
    # the moves book through the base's functions; neither side books or writes a call's usage
    # by a function of its own (the harness's `_usage = before` only sets a prior state)
    assert "_storeUsage(s);" in function_body(controller, "_afterMoves")
    assert controller.count("_useBudget(s, ") == 3, "a move's leg booked elsewhere"
    assert "_usage =" not in controller and "WindowBudgetLib.current(" not in controller
    assert "_usage = WindowBudgetLib.Usage(" not in harness
    assert "_useBudget(s, lost, moved);" in function_body(harness, "_call")


def test_function_body__finds_the_whole_function_and_notices_an_edit():
    src = "contract C { function f(uint x) private { if (x) { g(); } } function h() {} }"
    assert function_body(src, "f") == "function f(uint x) private { if (x) { g(); } }"
    assert function_body(src.replace("g()", "k()"), "f") != function_body(src, "f")
