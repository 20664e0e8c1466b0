"""tests/support/ape_speedups.py keeps ``NetworkAPI.config`` (ape validates the network's config
section anew, the environment read again, for each of three reads per transaction): the same
answer as ape's, validated once while the ecosystem's config object and the section's content
stay the same, and again when either changes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import ape_speedups


@pytest.fixture
def net(networks: Any) -> Any:
    n = networks.provider.network
    ape_speedups._NETWORK_CONFIGS.pop(id(n), None)
    yield n
    ape_speedups._NETWORK_CONFIGS.pop(id(n), None)


def test_installed__same_answer_as_apes(net):
    prop = type(net).__dict__["config"]
    assert hasattr(prop.fget, "__wrapped__")
    plain = prop.fget.__wrapped__(net)
    assert net.config == plain
    assert net.config is net.config  # kept
    assert net.required_confirmations == plain.get("required_confirmations", 0)


def test_validated_once__again_when_the_section_or_config_object_changes(net, monkeypatch):
    plain = type(net).__dict__["config"].fget.__wrapped__
    calls: list[int] = []
    kept = ape_speedups._kept_network_config(property(lambda self: calls.append(1) or plain(self)))
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
