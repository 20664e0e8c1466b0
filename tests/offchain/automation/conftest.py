"""Fixtures of the automation-keeper tests: keeper bots that talk to ape's anvil over web3 (no
ape inside the bots). The automation contracts (``auto``) and paid rebalancers (``make_paid``)
come from tests/support/fixtures_automation.py."""

from __future__ import annotations

import pytest

from tests.support.autobots_helpers import make_settings


@pytest.fixture
def rpc_url(chain) -> str:
    return str(chain.provider.http_uri)


@pytest.fixture
def settings(tmp_path, rpc_url, keeper, auto):
    return make_settings(tmp_path / "keeper.db", rpc_url, keeper.private_key, auto["addresses"])
