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
