"""Fixtures of the transaction-pipeline tests: a standalone anvil and a TestCounter on it, and
a throwaway PostgreSQL server (skipped, with the reason, where it cannot start).

Helpers live in pipeline_helpers.py / pipeline_anvil.py (unique module names, so that they
never collide with another test folder's modules).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.pipeline_anvil import Anvil, deploy


@pytest.fixture(scope="module")
def anvil() -> Iterator[Anvil]:
    node = Anvil()
    yield node
    node.stop()


@pytest.fixture(scope="module")
def counter(anvil: Anvil) -> Any:
    return deploy(anvil.w3, "TestCounter")
