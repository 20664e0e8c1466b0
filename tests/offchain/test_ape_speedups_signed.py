"""tests/support/ape_speedups.py's signed-bytes reuse: for a transaction ape's local signer
signed, ``serialize_transaction`` returns the bytes the signer made instead of encoding them
again and recovering the signer. Checked against ape's own ``serialize_transaction`` (the
wrapped one) for any transaction (hypothesis: the three fee types, a creation or a call, any
value, data, nonce, gas and fees, with and without an access list, sent to the zero address),
signed by a test account, and after the fields were changed since the signing or the sender
set to another address: the same bytes, or the same error.

The signer is an account generated for this module: ape skips the signer check for an address
it impersonates, and an earlier test on the same worker may have impersonated one of the fixed
test accounts (then a changed transaction serializes without an error, as the plain code does)."""

from __future__ import annotations

from typing import Any

import pytest
from ape.utils.misc import ZERO_ADDRESS
from ape_ethereum.transactions import BaseTransaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PLAIN = BaseTransaction.serialize_transaction.__wrapped__  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def signers(accounts: Any) -> tuple[Any, Any]:
    return accounts.generate_test_account(), accounts.generate_test_account()


addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
fields = st.fixed_dictionaries(
    {
        "type": st.sampled_from([0, 1, 2]),
        "nonce": st.integers(0, 2**64 - 1),
        "receiver": st.one_of(st.none(), st.just(ZERO_ADDRESS), addresses),
        "value": st.integers(0, 2**128),
        "data": st.binary(max_size=200),
        "gas_limit": st.integers(21_000, 30_000_000),
        "fee": st.integers(0, 10**12),
        "tip": st.integers(0, 10**10),
        "chain_id": st.sampled_from([1, 31337]),
        "access": st.lists(
            st.tuples(addresses, st.lists(st.binary(min_size=32, max_size=32), max_size=2)),
            max_size=2,
        ),
    }
)


def _txn(networks: Any, f: dict[str, Any]) -> Any:
    kw: dict[str, Any] = {
        "type": f["type"],
        "chain_id": f["chain_id"],
        "nonce": f["nonce"],
        "value": f["value"],
        "data": f["data"],
        "gas_limit": f["gas_limit"],
    }
    if f["receiver"] is not None:
        kw["receiver"] = networks.ecosystem.decode_address(f["receiver"])
    if f["type"] == 2:
        kw.update(max_fee=f["fee"] + f["tip"], max_priority_fee=f["tip"])
    else:
        kw["gas_price"] = f["fee"]
    if f["type"] != 0 and f["access"]:
        kw["access_list"] = [
            {"address": networks.ecosystem.decode_address(a), "storageKeys": keys}
            for a, keys in f["access"]
        ]
    return networks.ecosystem.create_transaction(**kw)


def _outcome(serialize: Any, txn: Any) -> tuple[str, Any]:
    try:
        return "bytes", bytes(serialize(txn))
    except Exception as err:  # noqa: BLE001 - the error is the answer compared
        return type(err).__name__, str(err)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(f=fields, change=st.sampled_from(["none", "nonce", "value", "data", "sender"]))
def test_serialized_as_signed__any_transaction__what_ape_serializes(
    networks, accounts, signers, f, change
):
    signer, other = signers
    assert signer.address not in accounts._impersonated_accounts
    txn = _txn(networks, f)
    txn.sender = signer.address
    signer.sign_transaction(txn)
    if change == "nonce":
        txn.nonce = (txn.nonce or 0) + 1
    elif change == "value":
        txn.value = txn.value + 1
    elif change == "data":
        txn.data = bytes(txn.data) + b"\x01"
    elif change == "sender":
        txn.sender = other.address
    got = _outcome(BaseTransaction.serialize_transaction, txn)
    assert got == _outcome(PLAIN, txn)
    if change != "none":
        assert got[0] == "SignatureError"


def test_serialized_as_signed__a_plain_send__the_kept_bytes_used(networks, accounts, monkeypatch):
    """The reuse is taken on a real send (else the property above would hold vacuously): no
    signer is recovered, and the node mines the transaction."""
    import eth_account

    def no_recovery(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("the signer was recovered")

    monkeypatch.setattr(eth_account.Account, "recover_transaction", no_recovery)
    receipt = accounts[5].transfer(accounts[6], 1)
    assert receipt.status == 1 and receipt.sender == accounts[5].address


def test_serialized_as_signed__an_unsigned_transaction__apes_error(networks):
    txn = networks.ecosystem.create_transaction(chain_id=1, nonce=0, gas_limit=21_000)
    with pytest.raises(Exception, match="not signed"):
        BaseTransaction.serialize_transaction(txn)
