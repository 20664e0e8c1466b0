"""Fork fixtures: the upstream deployment's addresses and a read-only view of the upstream."""

import json
from pathlib import Path

import pytest
from web3 import Web3

UPSTREAM = "http://127.0.0.1:8645"
ADDRESSES = (
    Path(__file__).resolve().parents[2] / "scripts" / "deployments" / "ethereum-upstream.json"
)


@pytest.fixture(scope="session")
def upstream():
    w3 = Web3(Web3.HTTPProvider(UPSTREAM))
    if not w3.is_connected():
        pytest.skip(f"no upstream node at {UPSTREAM}: run tests/fork/run.sh")
    return w3


@pytest.fixture(scope="session")
def addresses():
    return json.loads(ADDRESSES.read_text())


@pytest.fixture(scope="session")
def upstream_fingerprint(upstream, addresses):
    """What must not change upstream: its head and the fund's storage the tests write to."""

    def take():
        c = addresses["controller"]
        v = addresses["vault"]
        return (
            upstream.eth.block_number,
            upstream.eth.get_storage_at(c, 0),
            upstream.eth.get_balance(addresses["automation"]["tx_funder"]),
            upstream.eth.call({"to": v, "data": Web3.keccak(text="totalAssets()")[:4].hex()}),
        )

    return take
