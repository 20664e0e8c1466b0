"""The pipeline's type-2 codec (keepers.tx.txcodec: its own RLP encoder, pyrlp's decoder and
libsecp256k1 directly) against eth-account and pyrlp on random transactions: byte-identical
signed bytes, decoded back to the same fields and sender."""

from __future__ import annotations

import rlp
from coincurve import PrivateKey
from eth_account import Account
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from keepers.tx.txcodec import decode_1559, encode_fields, keccak256, sign_1559
from tests.support.pipeline_anvil import KEYS

ACCT = Account.from_key(KEYS[2])
KEY = PrivateKey(bytes(ACCT.key))
TXS = st.fixed_dictionaries(
    {
        "type": st.just(2),
        "chainId": st.integers(1, 2**64 - 1),
        "nonce": st.integers(0, 2**64 - 2),
        "to": st.binary(min_size=20, max_size=20).map(to_checksum_address),
        "value": st.integers(0, 2**256 - 1),
        "data": st.binary(max_size=300).map(lambda b: "0x" + b.hex()),
        "gas": st.integers(21_000, 2**63 - 1),
        "maxFeePerGas": st.integers(1, 2**128),
        "maxPriorityFeePerGas": st.integers(0, 2**64),
    }
)


@settings(max_examples=100, deadline=None)
@given(TXS)
def test_sign_1559__random_transactions__byte_identical_to_eth_account_and_decoded_back(tx):
    raw = sign_1559(tx, KEY)
    assert raw == bytes(ACCT.sign_transaction(tx).raw_transaction)
    fields, sender = decode_1559(raw)
    assert sender == ACCT.address.lower()
    for k in ("chainId", "nonce", "value", "gas", "maxFeePerGas", "maxPriorityFeePerGas"):
        assert fields[k] == tx[k], k
    assert fields["to"] == tx["to"].lower() and fields["data"] == tx["data"]


def test_sign__target_lower_case_as_stored__same_bytes_and_remote_request_checksummed():
    """The pipeline hands signers the target as stored (lower case). The raw-key path signs
    the same bytes as for the checksummed address; the remote signer's eth_signTransaction
    request carries it checksummed, as a signing UI shows it to its user."""
    from typing import Any

    from keepers.tx.signers import RawKeySigner, RemoteSigner

    target = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    tx = {"type": 2, "chainId": 31337, "nonce": 3, "to": target.lower(), "value": 0,
          "data": "0x1234", "gas": 50_000, "maxFeePerGas": 2 * 10**9,
          "maxPriorityFeePerGas": 10**9}  # fmt: skip
    raw_key = RawKeySigner(KEYS[1])
    lower = raw_key.sign_transaction(tx)
    assert lower == raw_key.sign_transaction({**tx, "to": target})
    assert decode_1559(lower)[0]["to"] == target.lower()

    remote = RemoteSigner("http://127.0.0.1:1", raw_key.address)
    seen: list[dict[str, Any]] = []

    class Provider:  # stands in for the signing service: records the request, signs it
        def make_request(self, method: str, params: list[Any]) -> dict[str, Any]:
            assert method == "eth_signTransaction"
            seen.append(params[0])
            return {"result": {"raw": "0x" + lower.hex()}}

    remote._provider = Provider()  # type: ignore[assignment]
    assert remote.sign_transaction(tx) == lower
    assert seen[0]["to"] == target  # checksummed (EIP-55)


ITEMS = st.lists(
    st.one_of(
        st.integers(0, 2**256 - 1),
        st.integers(0, 300),  # around the one-byte and 56-byte boundaries
        st.binary(max_size=1),
        st.binary(max_size=70),
        st.binary(min_size=250, max_size=600),  # a length of two bytes
        st.just([]),
    ),
    max_size=14,
)


@settings(max_examples=300, deadline=None)
@given(ITEMS)
def test_encode_fields__random_flat_lists__byte_identical_to_pyrlp(items):
    assert encode_fields(items) == rlp.encode(items)


def test_encode_fields__refuses_what_it_does_not_serve():
    import pytest

    with pytest.raises(ValueError, match="negative integer -1"):
        encode_fields([-1])
    with pytest.raises(ValueError, match="empty access list"):
        encode_fields([[b"\x01"]])


def test_keccak256__same_as_eth_utils():
    from eth_utils import keccak

    for data in (b"", b"abc", bytes(range(256)) * 5):
        assert keccak256(data) == keccak(data)
