"""Fixtures shared by several folders of the off-chain tests (the domain ones are loaded from
tests/support by tests/conftest.py)."""

from tests.support.anvil_node import node  # noqa: F401 - a standing anvil: (URL, web3)
