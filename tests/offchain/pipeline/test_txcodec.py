"""The pipeline's own RLP and type-2 codec against the third-party clients it replaces: pyrlp for
RLP (encoding, decoding, and refusing non-canonical bytes) and eth-account for signed
transactions, on random inputs."""

from __future__ import annotations

import rlp
from coincurve import PrivateKey
from eth_account import Account
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keepers.tx.txcodec import decode_1559, rlp_decode, rlp_encode, sign_1559
from tests.support.pipeline_anvil import KEYS

BYTES = st.binary(max_size=80) | st.sampled_from([b"", b"\x00", b"\x7f", b"\x80", b"\xff" * 56])
INTS = st.integers(min_value=0, max_value=2**256 - 1) | st.sampled_from([0, 127, 128, 255, 256])
ITEMS = st.recursive(BYTES | INTS, lambda kids: st.lists(kids, max_size=6), max_leaves=30)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(ITEMS)
def test_rlp_encode__any_item__equals_pyrlp(item):
    assert rlp_encode(item) == rlp.encode(item)


@FAST
@given(ITEMS)
def test_rlp_decode__any_encoding__equals_pyrlp(item):
    data = rlp.encode(item)
    assert rlp_decode(data) == rlp.decode(data)


def _pyrlp(data: bytes):
    try:
        return ("ok", rlp.decode(data))
    except Exception:  # noqa: BLE001 - any refusal
        return ("refused", None)


def _ours(data: bytes):
    try:
        return ("ok", rlp_decode(data))
    except ValueError:
        return ("refused", None)


@FAST
@given(st.binary(max_size=70))
def test_rlp_decode__arbitrary_bytes__accepts_and_refuses_what_pyrlp_does(data):
    assert _ours(data) == _pyrlp(data)


@FAST
@given(ITEMS, st.integers(min_value=0, max_value=200), st.integers(min_value=0, max_value=255))
def test_rlp_decode__one_byte_changed_or_cut__same_verdict_as_pyrlp(item, at, byte):
    data = bytearray(rlp.encode(item))
    if data:
        data[at % len(data)] = byte
    for candidate in (bytes(data), bytes(data[:-1]), bytes(data) + b"\x00"):
        assert _ours(candidate) == _pyrlp(candidate)


def test_rlp__non_canonical_forms__refused_with_a_reason():
    for bad, why in [
        (b"\x81\x05", "single byte"),  # 0x05 must be encoded as itself
        (b"\xb8\x05hello", "long form"),  # 5 bytes in the long form
        (b"\xb9\x00\x38" + b"a" * 56, "zero byte"),  # a length with a leading zero
        (b"\x83ab", "ends inside"),
        (b"\x01\x02", "trailing"),
    ]:
        assert _pyrlp(bad)[0] == "refused", bad
        try:
            rlp_decode(bad)
        except ValueError as err:
            assert why in str(err), (bad, err)
        else:
            raise AssertionError(f"{bad!r} decoded")


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
