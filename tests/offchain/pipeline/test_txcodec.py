"""The pipeline's type-2 codec (keepers.tx.txcodec: pyrlp and libsecp256k1 directly) against
eth-account on random transactions: byte-identical signed bytes, decoded back to the same fields
and sender."""

from __future__ import annotations

from coincurve import PrivateKey
from eth_account import Account
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from keepers.tx.txcodec import decode_1559, sign_1559
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
    assert sender == ACCT.address
    for k in ("chainId", "nonce", "value", "gas", "maxFeePerGas", "maxPriorityFeePerGas"):
        assert fields[k] == tx[k], k
    assert fields["to"] == tx["to"].lower() and fields["data"] == tx["data"]
