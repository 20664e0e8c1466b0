"""Fixtures of the transaction-pipeline tests: a standalone anvil and a TestCounter on it, and
a throwaway PostgreSQL server (skipped, with the reason, where it cannot start).

Helpers live in pipeline_helpers.py / pipeline_anvil.py (unique module names, so that they
never collide with another test folder's modules).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.pg import PostgresUnavailable, ThrowawayPostgres
from tests.support.pipeline_anvil import Anvil, deploy


@pytest.fixture(scope="module")
def anvil() -> Iterator[Anvil]:
    node = Anvil()
    yield node
    node.stop()


@pytest.fixture(scope="module")
def counter(anvil: Anvil) -> Any:
    return deploy(anvil.w3, "TestCounter")


@pytest.fixture(scope="module")
def postgres() -> Iterator[ThrowawayPostgres]:
    """A PostgreSQL server per module; `postgres.fresh_database()` gives a test its own DB."""
    try:
        pg = ThrowawayPostgres()
        pg.start()
    except PostgresUnavailable as err:
        # CI installs PostgreSQL (.ci/run) and sets BALLAST_REQUIRE_POSTGRES=1: there a server
        # that cannot start is a failure, not a skip nobody reads
        if os.environ.get("BALLAST_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required (BALLAST_REQUIRE_POSTGRES=1) but unavailable: {err}")
        pytest.skip(f"PostgreSQL unavailable: {err}")
    yield pg
    pg.stop()
