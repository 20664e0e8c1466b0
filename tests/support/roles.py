"""Session-wide accounts named by role (Yearn style): `role_fixture(index, name, doc)` makes the
fixture that answers ape's test account `index`; tests/conftest.py declares the table."""

from __future__ import annotations

from typing import Any

import pytest


def role_fixture(index: int, name: str, doc: str = "") -> Any:
    def account(accounts: Any) -> Any:
        return accounts[index]

    account.__doc__ = doc or f"ape test account {index}"
    return pytest.fixture(scope="session", name=name)(account)
