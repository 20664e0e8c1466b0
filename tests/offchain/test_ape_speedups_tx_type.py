"""tests/support/ape_speedups.py keeps ``Ethereum.default_transaction_type`` (ape answers it by
building a NetworkConfig, the environment read again, about twice per transaction): the same
answer as ape's, asked of ape once while the network and the config object stay the same, and
asked again when either changes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import ape_speedups


@pytest.fixture
def eco(networks: Any) -> Any:
    e = networks.provider.network.ecosystem
    ape_speedups._TX_TYPES.pop(id(e), None)
    yield e
    ape_speedups._TX_TYPES.pop(id(e), None)


def test_installed__same_answer_as_apes(eco):
    prop = type(eco).__dict__["default_transaction_type"]
    assert hasattr(prop.fget, "__wrapped__")
    assert eco.default_transaction_type == prop.fget.__wrapped__(eco)
    assert eco.default_transaction_type == prop.fget.__wrapped__(eco)  # kept, still the same


def test_asked_once__again_when_the_config_object_or_network_changes(eco, monkeypatch):
    plain = type(eco).__dict__["default_transaction_type"].fget.__wrapped__(eco)
    calls: list[int] = []
    counted = property(lambda self: calls.append(1) or plain)
    kept = ape_speedups._kept_transaction_type(counted)
    assert [kept.fget(eco) for _ in range(5)] == [plain] * 5
    assert len(calls) == 1

    cfg = eco.config
    other = cfg.model_copy()  # an equal config, another object (a reloaded config)
    monkeypatch.setattr(type(eco), "config", property(lambda self: other))
    assert kept.fget(eco) == plain
    assert len(calls) == 2
    monkeypatch.setattr(type(eco), "default_network_name", property(lambda self: "sepolia"))
    assert kept.fget(eco) == plain
    assert len(calls) == 3
    assert kept.fget(eco) == plain
    assert len(calls) == 3
