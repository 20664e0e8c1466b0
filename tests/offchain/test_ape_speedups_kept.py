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
