"""The operator tests' shared fixture: ``procs``, the keeper processes a test started, stopped at
its end (tests/support/operator_chain.py has the rest of what they share)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.support.operator_chain import stop_all


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Keeper processes the test started: any still running at the end is stopped."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    stop_all(started)
