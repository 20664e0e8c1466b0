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
def upstream_fingerprint(upstream, addresses, accounts):
    """What must not change upstream: its head (number and hash), the nonces of the accounts
    the keepers and the tests sign with, and the fund's storage the tests write to."""
    signers = [a.address for a in list(accounts)[:6]]

    def take():
        c = addresses["controller"]
        v = addresses["vault"]
        head = upstream.eth.get_block("latest")
        return (
            head["number"],
            head["hash"],
            tuple(upstream.eth.get_transaction_count(a) for a in signers),
            upstream.eth.get_storage_at(addresses["automation"]["fund_rebalancer"], 0),
            upstream.eth.get_storage_at(c, 0),
            upstream.eth.get_balance(addresses["automation"]["tx_funder"]),
            upstream.eth.call({"to": v, "data": Web3.keccak(text="totalAssets()")[:4].hex()}),
        )

    return take
