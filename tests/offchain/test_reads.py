"""keepers.tx.reads against web3's own encoding and decoding (its plain form), for every
function of every exported ABI, and its batch against a real anvil: a value, a revert and a
call to an address with no code each answer for themselves."""

from __future__ import annotations

import random
from typing import Any

import pytest
from eth_abi.grammar import BasicType, TupleType, parse
from web3 import Web3
from web3._utils.abi import map_abi_data
from web3._utils.normalizers import BASE_RETURN_NORMALIZERS
from web3.exceptions import BadFunctionCallOutput, ContractLogicError

from keepers import abis
from keepers.tx.node import connect_web3
from keepers.tx.reads import Fn, Read, ReadFailed, call_all, call_many, fn

W3 = Web3()


def _sample(t: Any, rnd: random.Random) -> Any:
    if t.arrlist:
        dims = t.arrlist[-1]  # (n,) for a fixed-size array, () for a dynamic one
        n = dims[0] if dims else rnd.randint(0, 3)
        return [_sample(t.item_type, rnd) for _ in range(n)]
    if isinstance(t, TupleType):
        return tuple(_sample(c, rnd) for c in t.components)
    assert isinstance(t, BasicType)
    bits = int(t.sub) if isinstance(t.sub, int) else 256
    if t.base == "uint":
        return rnd.choice([0, 1, 2**bits - 1, rnd.getrandbits(bits)])
    if t.base == "int":
        return rnd.choice([0, -1, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1])
    if t.base == "address":
        return Web3.to_checksum_address(rnd.randbytes(20).hex().rjust(40, "0"))
    if t.base == "bool":
        return rnd.choice([True, False])
    if t.base == "bytes":
        return rnd.randbytes(int(t.sub) if t.sub else rnd.randint(0, 70))
    if t.base == "string":
        return rnd.choice(["", "USDT", "ü" * 40])
    raise AssertionError(f"no sample for {t}")


def _functions() -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, e) for name in abis.NAMES for e in abis.load(name) if e.get("type") == "function"
    ]


def test_fn__every_exported_function__calldata_and_result_equal_web3s():
    rnd = random.Random(64)
    checked = 0
    for name, entry in _functions():
        f = Fn.from_entry(entry)
        contract = W3.eth.contract(abi=[entry])
        for _ in range(5):
            args = [_sample(parse(t), rnd) for t in f.inputs]
            assert f.calldata(*args) == contract.encode_abi(entry["name"], args=args), (
                name,
                entry["name"],
            )
            if not f.outputs:
                continue
            values = [_sample(parse(t), rnd) for t in f.outputs]
            data = W3.codec.encode(list(f.outputs), values)
            # web3's .call(): decode, the return normalisers, one output unwrapped
            plain = map_abi_data(
                BASE_RETURN_NORMALIZERS, list(f.outputs), W3.codec.decode(list(f.outputs), data)
            )
            want = plain[0] if len(plain) == 1 else tuple(plain)
            assert f.result(data) == want, (name, entry["name"])
            checked += 1
    assert checked > 300  # every exported ABI's functions with outputs, five samples each


def test_fn__overloaded_or_unknown__refused_naming_it():
    with pytest.raises(ValueError, match="IERC20Min.nope: 0 functions match"):
        fn("IERC20Min", "nope")
    with pytest.raises(TypeError, match="balanceOf takes 1 arguments, got 0"):
        fn("IERC20Min", "balanceOf").calldata()


# runtime codes: return 42 as one word; revert with Error("no"); (no code at all)
RETURNS_42 = "0x602a60005260206000f3"
REVERTS = "0x" + "".join(
    [
        "7f08c379a0" + "00" * 28 + "600052",  # mstore(0, Error(string)'s selector)
        "6020600452",  # mstore(4, 32): the string's offset
        "6002602452",  # mstore(36, 2): its length
        "616e6f60f01b604452",  # mstore(68, "no")
        "60646000fd",  # revert(0, 100)
    ]
)


def test_call_many__value_revert_and_no_code__each_answers_alone(node):
    url, _ = node
    w3 = connect_web3(url, 5)
    good, bad, empty = (Web3.to_checksum_address(f"0x{i:040x}") for i in (0xA1, 0xA2, 0xA3))
    w3.provider.make_request("anvil_setCode", [good, RETURNS_42])
    w3.provider.make_request("anvil_setCode", [bad, REVERTS])
    total = fn("IERC20Min", "decimals")
    block = w3.eth.block_number
    out = call_many(w3, [Read(good, total), Read(bad, total), Read(empty, total)], block)
    assert out[0] == 42
    assert isinstance(out[1], ReadFailed) and out[1].reverted and out[1].what == "decimals"
    assert isinstance(out[2], ReadFailed) and "no data" in out[2].message
    assert out[2].bad_output and not out[2].reverted  # as web3: BadFunctionCallOutput
    with pytest.raises(BadFunctionCallOutput, match="decimals: returned no data"):
        call_all(w3, [Read(good, total), Read(empty, total)], block)
    # an answer its ABI cannot decode (a bool read from a contract returning 42): bad output
    (odd,) = call_many(w3, [Read(good, fn("IERC20Min", "approve"), (good, 1))], block)
    assert isinstance(odd, ReadFailed) and odd.bad_output and "undecodable" in odd.message
    assert call_all(w3, [Read(good, total)] * 3, "latest") == [42, 42, 42]
    with pytest.raises(ContractLogicError, match="decimals"):
        call_all(w3, [Read(good, total), Read(bad, total)], block)
    assert call_many(w3, [], block) == []
