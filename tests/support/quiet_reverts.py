"""pytest plugin, loaded for the whole suite by tests/conftest.py's ``pytest_plugins``:
ape-foundry's provider prints the call tree of every reverted transaction or call
(``trace.show()`` in ``FoundryProvider._handle_execution_reverted``). Printing it fetches the
transaction's trace from anvil and decodes every call in it: about a third of the CPU time of a
revert-heavy test file (tests/contracts/fund/test_vault.py, profiled with cProfile), spent on
output that pytest captures and shows only when a test fails. Here that print is skipped; the
error raised is unchanged (its revert message, custom error and trace are built as before, and
``ape.reverts`` checks them as before).

``BALLAST_REVERT_TRACES=1`` prints the call trees again (to debug a failing test).
"""

from __future__ import annotations

import os
from typing import Any

from ape_ethereum.trace import Trace
from ape_foundry.provider import FoundryProvider


def _quiet(handle: Any) -> Any:
    def handle_without_show(self: Any, *args: Any, **kwargs: Any) -> Any:
        show = Trace.show
        Trace.show = lambda *_a, **_k: None  # type: ignore[method-assign]
        try:
            return handle(self, *args, **kwargs)
        finally:
            Trace.show = show  # type: ignore[method-assign]

    handle_without_show.__wrapped__ = handle  # type: ignore[attr-defined]
    return handle_without_show


def pytest_configure(config: Any) -> None:
    if os.environ.get("BALLAST_REVERT_TRACES") == "1":
        return
    handle = FoundryProvider._handle_execution_reverted
    if not hasattr(handle, "__wrapped__"):
        FoundryProvider._handle_execution_reverted = _quiet(handle)  # type: ignore[method-assign]
