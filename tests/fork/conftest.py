"""Fork fixtures: the upstream deployment's addresses and a read-only view of the upstream."""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from ballast_dev.local import actors

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


@dataclass
class Admin:
    """The upstream fund's admin as the tests act for it: the admin account (profile
    local.yaml), or the Safe of alice, bob and carol (local-safe.yaml, the default), whose Safe
    transactions alice and bob only sign: another funded key sends them (the deployer, test
    account 0; the upstream anvil funds accounts 0..9, not the owners 10..12)."""

    account: Any  # the key that sends: the admin account, or the Safe transactions' relayer
    safe: Any = None
    signers: list[Any] = field(default_factory=list)

    def call(self, method: Any, *args: Any) -> Any:
        """An admin-only call (ADMIN_ROLE, an ownership), sent as the admin."""
        if self.safe is None:
            return method(*args, sender=self.account)
        from ballast_dev.deployment.safe import exec_safe_tx

        data = method.encode_input(*args)
        target = method.contract.address
        return exec_safe_tx(self.safe, target, data, signers=self.signers, sender=self.account)

    def owners_sent_nothing(self, chain: Any) -> bool:
        """The Safe's signers only signed: none of them sent a transaction on the fork."""
        return all(chain.provider.get_nonce(s.address) == 0 for s in self.signers)

    def route(self, target: str, calldata: bytes) -> tuple[str, bytes]:
        """(to, data) of a transaction the sending key sends to make ``target`` receive
        ``calldata`` from the admin: itself, or the Safe's execTransaction signed at the Safe's
        current nonce (send it before routing the next)."""
        if self.safe is None:
            return target, calldata
        from ballast_dev.deployment.safe import ZERO, owner_signature, pack_signatures, safe_tx_hash

        h = safe_tx_hash(self.safe, target, calldata)
        sigs = pack_signatures({str(s.address): owner_signature(s, h) for s in self.signers})
        data = self.safe.execTransaction.encode_input(
            target, 0, calldata, 0, 0, 0, 0, ZERO, ZERO, sigs
        )
        return str(self.safe.address), bytes(data)


@pytest.fixture
def admin(addresses, accounts):
    """The admin of the upstream's profile (tests/fork/run.sh FORK_PROFILE)."""
    if not addresses.get("safe"):
        return Admin(account=accounts[actors.ADMIN])
    from ballast_dev.deployment.safe import at

    owners = actors.safe_owners(accounts)
    return Admin(
        account=accounts[actors.DEPLOYER],
        safe=at(addresses["safe"]),
        signers=[owners["alice"], owners["bob"]],
    )
