"""tests/support/ape_speedups.py keeps what ape builds again on every transaction from a config
that has not changed: ``Ethereum.default_transaction_type`` (a NetworkConfig built, the
environment read again, about twice per transaction) and ``NetworkAPI.config`` (the network's
section validated anew for three reads per transaction). Each gives the same answer as ape's,
is asked of ape once while the config object and what the answer depends on stay the same, and
is asked again when either changes.

And eth_utils' ``to_checksum_address``, kept per exact ``str`` or ``bytes`` value (a pure
function of it; ``is_checksum_address`` computes it for every address ape converts): the same
answer or the same error as the plain function for any value, asked once or again."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ape.utils.abi as ape_abi
import eth_utils.address as eth_address
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import ape_speedups


def _forgotten(cache: dict[int, Any], obj: Any) -> Iterator[Any]:
    cache.pop(id(obj), None)
    yield obj
    cache.pop(id(obj), None)


@pytest.fixture
def eco(networks: Any) -> Iterator[Any]:
    yield from _forgotten(ape_speedups._TX_TYPES, networks.provider.network.ecosystem)


@pytest.fixture
def net(networks: Any) -> Iterator[Any]:
    yield from _forgotten(ape_speedups._NETWORK_CONFIGS, networks.provider.network)


def _counted(plain: Any, calls: list[int]) -> property:
    return property(lambda self: calls.append(1) or plain(self))


@pytest.mark.parametrize("name", ["eco", "net"])
def test_installed__same_answer_as_apes(name, request):
    obj = request.getfixturevalue(name)
    attr = {"eco": "default_transaction_type", "net": "config"}[name]
    prop = type(obj).__dict__[attr]
    assert hasattr(prop.fget, "__wrapped__")
    plain = prop.fget.__wrapped__(obj)
    assert getattr(obj, attr) == plain
    assert getattr(obj, attr) == plain  # kept, still the same
    if name == "net":
        assert obj.config is obj.config
        assert obj.required_confirmations == plain.get("required_confirmations", 0)


def test_tx_type_asked_once__again_when_the_config_object_or_network_changes(eco, monkeypatch):
    plain = type(eco).__dict__["default_transaction_type"].fget.__wrapped__
    calls: list[int] = []
    kept = ape_speedups._kept_transaction_type(_counted(plain, calls))
    first = plain(eco)
    assert [kept.fget(eco) for _ in range(5)] == [first] * 5
    assert len(calls) == 1

    cfg = eco.config
    other = cfg.model_copy()  # an equal config, another object (a reloaded config)
    monkeypatch.setattr(type(eco), "config", property(lambda self: other))
    assert kept.fget(eco) == first
    assert len(calls) == 2
    monkeypatch.setattr(type(eco), "default_network_name", property(lambda self: "sepolia"))
    assert kept.fget(eco) == first
    assert len(calls) == 3
    assert kept.fget(eco) == first
    assert len(calls) == 3


def test_network_config_validated_once__again_when_the_section_or_config_changes(net, monkeypatch):
    plain = type(net).__dict__["config"].fget.__wrapped__
    calls: list[int] = []
    kept = ape_speedups._kept_network_config(_counted(plain, calls))
    first = kept.fget(net)
    assert [kept.fget(net) for _ in range(5)] == [first] * 5
    assert len(calls) == 1

    section = net.ecosystem_config.get(net.name)
    monkeypatch.setitem(section, "required_confirmations", 7)  # the section edited in place
    assert kept.fget(net).get("required_confirmations") == 7
    assert len(calls) == 2
    other = net.ecosystem_config.model_copy()  # an equal config, another object (reloaded)
    monkeypatch.setattr(type(net), "ecosystem_config", property(lambda self: other))
    kept.fget(net)
    assert len(calls) == 3
    kept.fget(net)
    assert len(calls) == 3


hexdigits = st.text(alphabet="0123456789abcdefABCDEF", max_size=44)
address_like = st.one_of(
    hexdigits.map(lambda h: "0x" + h),
    hexdigits,
    st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex()),
    st.binary(min_size=20, max_size=20).map(lambda b: "0X" + b.hex().upper()),
    st.binary(max_size=32),
    st.binary(min_size=20, max_size=20),
    st.text(max_size=44),
    st.integers(),
    st.none(),
)


def _outcome(fn: Any, value: Any) -> tuple[str, Any]:
    try:
        return "answer", fn(value)
    except Exception as err:  # noqa: BLE001 - the error is the answer compared
        return type(err).__name__, str(err)


@settings(max_examples=400, deadline=None)
@given(values=st.lists(address_like, min_size=1, max_size=6))
def test_checksums_kept__any_value_asked_twice__the_plain_answer_or_error(values):
    kept = eth_address.to_checksum_address
    plain = kept.__wrapped__  # type: ignore[attr-defined]
    assert kept is not plain  # the suite's path is the kept one

    def plain_is_checksum(v: Any) -> bool:
        return isinstance(v, str) and eth_address.is_hex_address(v) and v == plain(v)

    for value in values + values:  # the second time from what was kept
        assert _outcome(kept, value) == _outcome(plain, value)
        got = _outcome(eth_address.is_checksum_address, value)
        assert got == _outcome(plain_is_checksum, value)


@settings(max_examples=400, deadline=None)
@given(codes=st.lists(st.binary(max_size=200), min_size=1, max_size=5))
def test_opcodes_kept__any_code_asked_twice__the_plain_answer(codes):
    """ape's proxy check strips push data through the kept answer: the plain function's bytes
    for any code (push operands cut short at the end included), as bytes or HexBytes, the
    second time from what was kept."""
    import ape_ethereum.ecosystem as ecosystem
    from hexbytes import HexBytes

    kept = ecosystem.strip_push_data
    plain = kept.__wrapped__  # type: ignore[attr-defined]
    assert kept is not plain  # the suite's path is the kept one
    for code in codes + codes:
        assert kept(code) == plain(code) == kept(HexBytes(code)) == plain(HexBytes(code))
        assert type(kept(HexBytes(code))) is bytes


def test_height__the_latest_blocks_number__through_mining_and_a_revert(chain):
    """``chain.blocks.height`` (read by ape's isolation at every revert, to trim its receipt
    history) is the node's ``eth_blockNumber`` instead of the latest block fetched and decoded:
    the same number as ape's own reading, after blocks are mined and after a revert."""
    prop = type(chain.blocks).__dict__["height"]
    assert hasattr(prop.fget, "__wrapped__")
    plain = prop.fget.__wrapped__
    start = chain.blocks.height
    assert start == plain(chain.blocks) == chain.blocks.head.number
    snap = chain.snapshot()
    chain.mine(3)
    assert chain.blocks.height == plain(chain.blocks) == start + 3
    chain.restore(snap)
    assert chain.blocks.height == plain(chain.blocks) == start


@pytest.mark.parametrize(
    "mnemonic",
    ["test test test test test test test test test test test junk", "abandon " * 11 + "about"],
)
def test_dev_accounts_kept__the_plain_derivation__asked_twice(mnemonic):
    """ape's test accounts derived from the mnemonic once per (mnemonic, count, path, first
    index): the same pairs as the plain derivation, asked once or again, in a new list each time
    (a caller's change to the list does not reach the next)."""
    from ape_test import accounts as ape_test_accounts

    kept = ape_test_accounts.generate_dev_accounts
    assert hasattr(kept, "__wrapped__")
    plain = kept.__wrapped__
    for path in ("m/44'/60'/0'/0", "m/44'/60'/0'/1/{}"):
        for index in (0, 9, 13, 14, 40):
            want = plain(mnemonic, 1, hd_path=path, start_index=index)
            first = kept(mnemonic, 1, hd_path=path, start_index=index)
            assert first == want
            first.clear()
            assert kept(mnemonic, 1, hd_path=path, start_index=index) == want
        assert kept(mnemonic, 3, hd_path=path) == plain(mnemonic, 3, hd_path=path)
    assert kept(mnemonic) == plain(mnemonic)


def test_dev_accounts_kept__an_impersonated_address_and_each_test_account(accounts):
    """``accounts[address]`` of an address that is no test account (derived all 14 first) and of
    each test account's own address: the same accounts as by index."""
    for i in range(len(accounts)):
        assert accounts[accounts[i].address].address == accounts[i].address
    outsider = "0x000000000000000000000000000000000000dEaD"
    assert accounts[outsider].address == outsider


def _answer(fn: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "value", fn(*args)
    except Exception as err:  # noqa: BLE001 - the error's type is the answer
        return "error", type(err).__name__


def _struct_views(struct: Any) -> tuple[Any, ...]:
    """Everything a caller can read of a decoded struct."""
    import dataclasses

    fields = tuple(f.name for f in dataclasses.fields(struct))
    return (
        type(struct).__name__,
        fields,
        repr(struct),
        tuple(struct),
        len(struct),
        [struct[i] for i in range(len(struct))],
        [struct[f] for f in fields],
        [f in struct for f in (*fields, "nope")],
        dict(vars(struct)),
        dataclasses.astuple(struct),
    )


@pytest.mark.parametrize(
    "fields",
    [("owner", "amount"), ("", "x", ""), ("n", "items"), ("values",), ("a",)],
    ids=["named", "unnamed", "field-items", "field-values", "one"],
)
def test_structs_kept__every_view_copy_and_pickle__as_apes_own(fields):
    """ape's ``create_struct`` with its dataclass kept per (name, field names): a struct made
    either way reads the same (fields, repr, indexing by position and name, ``in``, ``len``,
    ``vars``), compares the same (with each other, a tuple, a dict), copies and pickles to the
    same values (``__reduce__``: the struct's own decoding, also after a field was set), and
    a second struct of the same type does not change the first's."""
    import copy
    import dataclasses
    import operator
    import pickle

    from ape.utils.abi import Struct
    from ethpm_types.abi import ABIType

    kept = ape_abi.create_struct
    assert hasattr(kept, "__wrapped__")
    plain = kept.__wrapped__
    types = [ABIType(name=f or None, type="uint256") for f in fields]
    for values in ([1, 2, 3][: len(fields)], [7, 8, 9][: len(fields)]):
        a, b = plain("S", types, values), kept("S", types, values)
        assert isinstance(b, Struct)
        assert _struct_views(a) == _struct_views(b)
        twin_a, twin_b = plain("S", types, values), kept("S", types, values)
        assert _answer(operator.eq, a, twin_a) == _answer(operator.eq, b, twin_b)
        assert _answer(operator.eq, b, a) == _answer(operator.eq, a, twin_a)
        # against a tuple, a list, a dict: the same answer, or the same error (a field named
        # items or values hides the method ape's comparison calls)
        names = [f.name for f in dataclasses.fields(a)]
        as_dict = dict(zip(names, values, strict=True))
        for other in (tuple(values), list(values), tuple(v + 1 for v in values), as_dict):
            assert _answer(operator.eq, a, other) == _answer(operator.eq, b, other)
        for struct in (a, b):  # (ape sets a field by its name; by position it raises)
            struct[dataclasses.fields(struct)[0].name] = 42
        assert _struct_views(a) == _struct_views(b)
        assert a.__reduce__()[1] == b.__reduce__()[1] == ("S", types, values)
        for clone in (copy.copy, copy.deepcopy, lambda s: pickle.loads(pickle.dumps(s))):
            assert _struct_views(clone(a)) == _struct_views(clone(b))
    first = kept("S", types, [5] * len(fields))
    kept("S", types, [6] * len(fields))
    assert tuple(first) == (5,) * len(fields)
    assert first.__reduce__()[1][2] == [5] * len(fields)
