"""Plan simulation (keepers.tx.simulation) against a real local anvil: the node's eth_simulateV1
and the anvil fork serve the one interface with the same answers (state carried from one call
to the next, an unfunded sender given its gas money, the first revert decoded and the rest not
run, post-state reads decoded by the caller), nothing reaches the chain; and KEEPER_SIMULATOR's
choice (auto: the node's method when it answers, else the fork) is checked up front, a node
without the method faked by a small JSON-RPC proxy that answers -32601."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from eth_abi import decode as abi_decode

from keepers.core.errors import EXIT_CONFIG, ConfigError, exit_code
from keepers.tx.node import connect_web3
from keepers.tx.revert import RevertDecoder
from keepers.tx.simulation import (
    ForkSimulator,
    NodeSimulator,
    SimCall,
    SimRead,
    choose_simulator,
    find_anvil,
)
from tests.support.local_http import LocalHttp, QuietHandler
from tests.support.pipeline_anvil import Anvil, deploy

# fresh accounts with no ether: they pay gas only through the simulation's state override
MINTER = "0x00000000000000000000000000000000000c0ffe"
HOLDER = "0x000000000000000000000000000000000000b0b0"
PAYEE = "0x000000000000000000000000000000000000cafE"
MISSING_ANVIL = "/nonexistent/foundry/bin/anvil"


@pytest.fixture(scope="module")
def token(anvil: Anvil) -> Any:
    return deploy(anvil.w3, "TestStablecoin", "Test USD", "TUSD", 6)


def _calls(token: Any, transfer: int) -> list[SimCall]:
    """Mint 100 to HOLDER, then HOLDER (no ether, no tokens before call 0) pays PAYEE."""
    mint = token.functions.mint(HOLDER, 100)._encode_transaction_data()
    pay = token.functions.transfer(PAYEE, transfer)._encode_transaction_data()
    return [
        SimCall(MINTER, token.address, mint, "mint"),
        SimCall(HOLDER, token.address, pay, "transfer"),
    ]


def _balance_read(token: Any, who: str) -> SimRead:
    data = token.functions.balanceOf(who)._encode_transaction_data()
    return SimRead(token.address, data, lambda raw: abi_decode(["uint256"], raw)[0], who)


def _simulators(anvil: Anvil) -> dict[str, Any]:
    decoder = RevertDecoder.default()
    return {
        "node": NodeSimulator(connect_web3(anvil.url, 30), decoder),
        "fork": ForkSimulator(anvil.url, decoder),
    }


@pytest.mark.parametrize("kind", ["node", "fork"])
def test_simulate__state_carried_unfunded_sender__reads_after(anvil, token, kind):
    sim = _simulators(anvil)[kind]
    block = anvil.w3.eth.block_number
    assert anvil.w3.eth.get_balance(HOLDER) == 0
    reads = [_balance_read(token, PAYEE), _balance_read(token, HOLDER)]
    out = sim.simulate(block, _calls(token, 60), reads)
    assert out.ok and out.failure is None, out.steps
    assert [s.index for s in out.steps] == [0, 1]
    assert all(s.gas_used > 21_000 for s in out.steps)
    assert out.after == [60, 40]  # the transfer saw the mint: state carried
    assert out.simulator == kind
    # nothing reached the chain
    assert token.functions.balanceOf(PAYEE).call() == 0
    assert anvil.w3.eth.block_number == block


@pytest.mark.parametrize("kind", ["node", "fork"])
def test_simulate__revert__decoded_and_the_rest_not_run(anvil, token, kind):
    sim = _simulators(anvil)[kind]
    calls = _calls(token, 150)  # more than the 100 minted
    calls.append(SimCall(MINTER, token.address, calls[0].calldata, "mint again"))
    out = sim.simulate(anvil.w3.eth.block_number, calls, [_balance_read(token, PAYEE)])
    assert not out.ok
    assert [s.ok for s in out.steps] == [True, False]  # stopped at the first revert
    failed = out.failure
    assert failed is not None and failed.index == 1
    assert failed.error is not None and failed.error.startswith("ERC20InsufficientBalance("), (
        failed.error
    )
    assert "100" in failed.error and "150" in failed.error
    assert failed.revert_data is not None and failed.revert_data.startswith("0xe450d38c")
    assert out.after is None  # no post-state for a plan that does not pass


def test_simulate__node_and_fork__same_gas_per_call(anvil, token):
    sims = _simulators(anvil)
    block = anvil.w3.eth.block_number
    gas = {
        k: [s.gas_used for s in s_.simulate(block, _calls(token, 60)).steps]
        for k, s_ in sims.items()
    }
    assert gas["node"] == gas["fork"], gas


# ------------------------------------------------------------------ independent calls


@pytest.mark.parametrize("kind", ["node", "fork"])
def test_simulate_each__calls_alone__nothing_carried_revert_decoded(anvil, token, kind):
    """simulate_each runs each call alone on the block: the transfer does not see the mint
    before it (it reverts, decoded), the mint passes with its return data; nothing is mined."""
    sim = _simulators(anvil)[kind]
    block = anvil.w3.eth.block_number
    supply = token.functions.totalSupply()._encode_transaction_data()
    calls = [*_calls(token, 60), SimCall(HOLDER, token.address, supply, "supply")]
    steps = sim.simulate_each(block, calls, estimate=True)
    assert [s.index for s in steps] == [0, 1, 2]
    assert [s.ok for s in steps] == [True, False, True]
    failed = steps[1]
    assert failed.error is not None and failed.error.startswith("ERC20InsufficientBalance("), (
        failed.error
    )
    assert failed.revert_data is not None and failed.revert_data.startswith("0xe450d38c")
    before = token.functions.totalSupply().call()
    assert abi_decode(["uint256"], bytes.fromhex(steps[2].return_data[2:]))[0] == before
    # the estimate is beside each passed call, an upper bound of the gas it burns
    for step in (steps[0], steps[2]):
        assert step.gas_estimate is not None and step.gas_estimate >= step.gas_used > 21_000
    assert anvil.w3.eth.block_number == block


def test_simulate_each__node__one_batch_of_separate_requests(anvil, token):
    proxy = _NoSimulateProxy(anvil.url, refuse=False)
    try:
        sim = _choose(proxy.url, "node")
        proxy.seen.clear()
        steps = sim.simulate_each(anvil.w3.eth.block_number, _calls(token, 60))
        assert [s.ok for s in steps] == [True, False]
        assert proxy.seen == ["eth_simulateV1", "eth_simulateV1"]  # no estimate unless asked
    finally:
        proxy.close()


# ------------------------------------------------------------------ the choice


class _NoSimulateProxy(LocalHttp):
    """Forwards JSON-RPC to anvil but answers eth_simulateV1 like a node without it (geth's
    message, code -32601), single requests and batches."""

    def __init__(self, upstream: str, refuse: bool = True) -> None:
        self.upstream = upstream
        self.refuse = refuse  # False: pass eth_simulateV1 through too (the node has it)
        self.seen: list[str] = []
        proxy = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                items = body if isinstance(body, list) else [body]
                out = [proxy.answer(i) for i in items]
                raw = json.dumps(out if isinstance(body, list) else out[0]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        super().__init__(Handler, poll_interval=0.05)

    def answer(self, item: dict[str, Any]) -> dict[str, Any]:
        self.seen.append(item["method"])
        if item["method"] == "eth_simulateV1" and self.refuse:
            return {
                "jsonrpc": "2.0",
                "id": item["id"],
                "error": {
                    "code": -32601,
                    "message": "the method eth_simulateV1 does not exist/is not available",
                },
            }
        req = urllib.request.Request(
            self.upstream, json.dumps(item).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - local anvil
            return json.loads(resp.read())  # type: ignore[no-any-return]


@pytest.fixture
def no_simulate(anvil: Anvil) -> Iterator[_NoSimulateProxy]:
    proxy = _NoSimulateProxy(anvil.url)
    yield proxy
    proxy.close()


def _choose(url: str, choice: str, anvil_bin: str = "anvil") -> Any:
    return choose_simulator(choice, connect_web3(url, 30), url, RevertDecoder.default(), anvil_bin)


def test_choose__auto__the_node_when_it_answers(anvil):
    assert isinstance(_choose(anvil.url, "auto", MISSING_ANVIL), NodeSimulator)
    assert isinstance(_choose(anvil.url, "node"), NodeSimulator)
    assert _choose(anvil.url, "auto").name == "node"  # with anvil at hand too


def test_auto__node_loses_the_method_later__that_plan_on_the_fork(anvil, token):
    proxy = _NoSimulateProxy(anvil.url, refuse=False)
    try:
        sim = _choose(proxy.url, "auto")
        block = anvil.w3.eth.block_number
        reads = [_balance_read(token, PAYEE)]
        first = sim.simulate(block, _calls(token, 60), reads)
        assert (first.ok, first.after, first.simulator) == (True, [60], "node")
        proxy.refuse = True  # now a node without eth_simulateV1 answers
        second = sim.simulate(block, _calls(token, 60), reads)
        assert (second.ok, second.after, second.simulator) == (True, [60], "fork")
        assert [s.gas_used for s in second.steps] == [s.gas_used for s in first.steps]
    finally:
        proxy.close()


def test_auto__node_loses_the_method_later__independent_calls_estimated_on_the_node(anvil, token):
    proxy = _NoSimulateProxy(anvil.url, refuse=False)
    try:
        sim = _choose(proxy.url, "auto")
        block = anvil.w3.eth.block_number
        mint = token.functions.mint(HOLDER, 100)._encode_transaction_data()
        over = token.functions.transfer(PAYEE, 1)._encode_transaction_data()  # HOLDER has none
        calls = [SimCall(MINTER, token.address, mint, "mint"), SimCall(HOLDER, token.address, over)]
        first = sim.simulate_each(block, calls, estimate=True)
        assert [s.ok for s in first] == [True, False]
        proxy.refuse = True  # now a node without eth_simulateV1 answers
        proxy.seen.clear()
        second = sim.simulate_each(block, calls, estimate=True)
        # eth_call + eth_estimateGas per call, on the node itself: no fork for independent calls
        assert [s.ok for s in second] == [True, False]
        assert second[0].gas_estimate == first[0].gas_estimate and second[1].error
        # the same answers as the node's own method gave: outcome, decoded revert, estimate
        assert [(s.ok, s.error, s.gas_estimate) for s in second] == [
            (s.ok, s.error, s.gas_estimate) for s in first
        ]
        assert set(proxy.seen) >= {"eth_simulateV1", "eth_call", "eth_estimateGas"}
        assert "anvil_" not in " ".join(proxy.seen)
        proxy.refuse = False  # the node is asked again for the next call set
        proxy.seen.clear()
        assert [s.ok for s in sim.simulate_each(block, calls)] == [True, False]
        assert "eth_call" not in proxy.seen
    finally:
        proxy.close()


def test_choose__auto__fork_on_a_node_without_the_method(anvil, token, no_simulate):
    assert find_anvil("anvil") is not None, "the test needs anvil on PATH (node_modules/.bin)"
    sim = _choose(no_simulate.url, "auto")
    assert isinstance(sim, ForkSimulator)
    assert "eth_simulateV1" in no_simulate.seen  # it asked the node first
    # and the fork it falls back to works (forking through the proxy)
    out = sim.simulate(anvil.w3.eth.block_number, _calls(token, 60), [_balance_read(token, PAYEE)])
    assert out.ok and out.after == [60]


@pytest.mark.parametrize(
    ("choice", "via_proxy", "named"),
    [
        ("auto", True, ["KEEPER_SIMULATOR=auto", "eth_simulateV1", "KEEPER_ANVIL_BIN"]),
        ("fork", False, ["KEEPER_SIMULATOR=fork", "KEEPER_ANVIL_BIN", MISSING_ANVIL]),
        ("node", True, ["KEEPER_SIMULATOR=node", "does not answer eth_simulateV1"]),
    ],
)
def test_choose__cannot_work__config_error_exit_2(anvil, no_simulate, choice, via_proxy, named):
    url = no_simulate.url if via_proxy else anvil.url
    with pytest.raises(ConfigError) as caught:
        _choose(url, choice, MISSING_ANVIL)
    assert exit_code(caught.value) == EXIT_CONFIG
    for word in named:
        assert word in str(caught.value), str(caught.value)


def test_choose__unknown_choice__refused():
    with pytest.raises(ConfigError, match="KEEPER_SIMULATOR='fast'"):
        choose_simulator("fast", None, "http://127.0.0.1:1", RevertDecoder.default())  # type: ignore[arg-type]
