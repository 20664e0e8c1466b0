"""The start-up check of the deployment record in one round trip (`FundContracts.verify`).

Every contract's code and the fund's answers about each other (controller.vault(), ...,
assetList()) are asked in one JSON-RPC batch: one round trip where there were one per contract
(about 26 on this fund). A node without batches (ballast_dev.local.rpc_proxy's three ways of
refusing one) is asked one call at a time, and every record gets the same verdict either way:
passed, or refused with the same message.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from keepers.tx.contracts import DeploymentError, FundAddresses, FundContracts
from keepers.tx.node import connect_web3
from tests.support.rpc_proxy import RpcProxy

DEAD = "0x000000000000000000000000000000000000dEaD"
MODES = [None, "error", "http", "too-large"]  # None: the node takes batches


@pytest.fixture
def proxy(chain: Any) -> Iterator[RpcProxy]:
    p = RpcProxy(chain.provider.uri)
    yield p
    p.close()


def _verdict(proxy: RpcProxy, record: dict[str, Any], w3: Any = None) -> str:
    w3 = w3 or connect_web3(proxy.url, 10.0)
    contracts = FundContracts(w3, FundAddresses.from_dict(record))
    try:
        contracts.verify()
    except DeploymentError as err:
        return str(err)
    return "passed"


def _bad_records(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    first = next(iter(record["assets"]))
    return {
        "as deployed": record,
        "controller without code": record | {"controller": DEAD},
        "an asset without code": record | {"assets": record["assets"] | {first: DEAD}},
        "controller is the lens": record | {"controller": record["lens"]},
        "vault is the cash token": record | {"vault": record["cash"]},
        "cash is an asset": record | {"cash": record["assets"][first]},
        "an asset the controller does not list": record
        | {"assets": record["assets"] | {"EXTRA": record["cash"]}},
        "written on chain 1": record | {"chain_id": 1},
    }


def test_verify__node_takes_batches__one_round_trip(fresh, deployment_file: Path, proxy):
    record = json.loads(deployment_file.read_text())
    assert _verdict(proxy, record) == "passed"
    # the node's chain id, then one batch: every contract's code and the fund's answers
    assert proxy.posts == 2, proxy.methods
    named = 4 + len(record["assets"]) + len(record["feeds"]) + len(record["adapters"])
    executor = FundAddresses.from_dict(record).plan_executor
    assert proxy.methods.count("eth_getCode") == named + (executor is not None)


@pytest.mark.parametrize("mode", MODES[1:])
def test_verify__node_refuses_batches__asked_one_call_at_a_time(
    fresh, deployment_file: Path, proxy, mode
):
    record = json.loads(deployment_file.read_text())
    proxy.refuse_batches = mode
    assert _verdict(proxy, record) == "passed"
    calls = proxy.methods.count("eth_getCode") + proxy.methods.count("eth_call")
    assert proxy.posts > calls // 2 > 10, proxy.methods  # refused, then one post a call


def test_verify__every_record__same_verdict_batched_or_not(fresh, deployment_file: Path, proxy):
    """Each record's verdict with batches and without: equal, and the refusals the other
    start-up tests expect (tests/offchain/fundbot/test_fundbot_startup_checks.py) are among
    them. (Each way of refusing a batch leads to the same one-call-at-a-time path: the test
    above.)"""
    record = json.loads(deployment_file.read_text())
    w3 = connect_web3(proxy.url, 10.0)  # one client: its contract handles are built once
    got: dict[str, list[str]] = {}
    for name, rec in _bad_records(record).items():
        for mode in (None, "too-large"):
            proxy.refuse_batches = mode
            got.setdefault(name, []).append(_verdict(proxy, rec, w3))
    for name, verdicts in got.items():
        assert len(set(verdicts)) == 1, (name, verdicts)
    first = next(iter(record["assets"]))
    assert got["as deployed"][0] == "passed"
    assert f"no contract code at controller {DEAD}" in got["controller without code"][0]
    assert f"no contract code at assets.{first} {DEAD}" in got["an asset without code"][0]
    assert "controller.vault() does not answer" in got["controller is the lens"][0]
    assert "controller.vault() is" in got["vault is the cash token"][0]
    assert "vault.asset() is" in got["cash is an asset"][0]
    assert (
        "assets not listed on the controller: EXTRA"
        in got["an asset the controller does not list"][0]
    )
    assert "was written on chain 1" in got["written on chain 1"][0]


def test_proxy__unknown_refusal__named_error(proxy):
    with pytest.raises(ValueError, match="refuse_batches: expected one of .* got 'sometimes'"):
        proxy.refuse_batches = "sometimes"
