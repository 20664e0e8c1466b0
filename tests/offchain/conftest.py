"""Fixtures shared by several folders of the off-chain tests (the domain ones are loaded from
tests/support by tests/conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.anvil_node import node  # noqa: F401 - a standing anvil: (URL, web3)
from tests.support.pg import PostgresUnavailable, ThrowawayPostgres


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
