"""Chain I/O shared by the automation bots: ABIs from ``keepers.abis``, batched eth_calls,
log scans with event decoding. web3.py only (no ape at runtime).

Every read goes through :class:`keepers.tx.node.Node` so that many calls cost one HTTP round
trip (JSON-RPC batch) and node errors arrive as the pipeline's typed exceptions.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils import event_abi_to_log_topic, to_checksum_address
from eth_utils.abi import get_abi_output_types
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract

from keepers import abis
from keepers.abis import abi_type
from keepers.tx.contracts import contract_at
from keepers.tx.errors import NodeError
from keepers.tx.node import Node
from keepers.tx.simulation import SimCall, SimStep, Simulator

CONTRACTS = ("RebalanceScheduler", "TxFunder", "Rebalancer", "PaidRebalancerRegistry", "Supervisor")


def load_abis() -> dict[str, list[dict[str, Any]]]:
    """ABIs of the automation contracts (exported from the build by ``make abis``)."""
    return {name: abis.load(name) for name in CONTRACTS}


@dataclass(frozen=True)
class Call:
    contract: Contract
    fn: str
    args: tuple[Any, ...] = ()


class ChainIO:
    """Batched reads and log scans for the automation contracts."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.w3: Web3 = node.w3
        self.abis = load_abis()
        self._events: dict[bytes, tuple[str, dict[str, Any]]] = {}
        for contract_abi in self.abis.values():
            for item in contract_abi:
                if item.get("type") == "event":
                    self._events.setdefault(
                        event_abi_to_log_topic(item),  # type: ignore[arg-type]
                        (item["name"], item),
                    )

    def contract(self, name: str, address: str) -> Contract:
        return contract_at(self.w3, address, self.abis[name])

    def scheduler_before_credit(self, address: str) -> Contract:
        """The scheduler as releases before its pull payment (0.2.0 and older) answer it:
        ``getRun``'s Run has no ``shareBps`` and its ``fee`` is a uint96 (derived from this
        release's ABI, not hand-written)."""
        abi = copy.deepcopy(self.abis["RebalanceScheduler"])
        for item in abi:
            if item.get("type") == "function" and item.get("name") == "getRun":
                run = item["outputs"][0]
                run["components"] = [
                    {**c, "type": "uint96", "internalType": "uint96"} if c["name"] == "fee" else c
                    for c in run["components"]
                    if c["name"] != "shareBps"
                ]
        return self.w3.eth.contract(address=to_checksum_address(address), abi=abi)

    # --- calls ------------------------------------------------------------------------------

    @staticmethod
    def encode(call: Call) -> str:
        return str(call.contract.encode_abi(call.fn, args=list(call.args)))

    def _decode(self, call: Call, raw: Any) -> Any:
        fn_abi = call.contract.get_function_by_name(call.fn).abi
        out = self.w3.codec.decode(get_abi_output_types(fn_abi), bytes(HexBytes(raw or "0x")))
        return out[0] if len(out) == 1 else tuple(out)

    def call_many(
        self, calls: Sequence[Call], block: str = "latest", sender: str | None = None
    ) -> list[Any]:
        """eth_call each (one round trip); each item is the decoded result or a NodeError."""
        if not calls:
            return []
        reqs = []
        for c in calls:
            tx: dict[str, Any] = {"to": c.contract.address, "data": self.encode(c)}
            if sender:
                tx["from"] = sender
            reqs.append(("eth_call", [tx, block]))
        out: list[Any] = []
        for c, res in zip(calls, self.node.batch(reqs), strict=True):
            out.append(res if isinstance(res, NodeError) else self._decode(c, res))
        return out

    def call(self, call: Call, block: str = "latest", sender: str | None = None) -> Any:
        res = self.call_many([call], block, sender)[0]
        if isinstance(res, NodeError):
            raise res
        return res

    def simulate_each(
        self,
        simulator: Simulator,
        calls: Sequence[Call],
        sender: str,
        block: str = "pending",
        estimate: bool = False,
    ) -> list[tuple[Any, SimStep]]:
        """Each call alone on ``block`` through the simulator (keepers.tx.simulation:
        eth_simulateV1 on the node, one round trip for all; with ``estimate`` an
        eth_estimateGas each in the same round trip): (decoded return value, step) per call;
        the value is None when the step failed (``step.error`` the decoded revert)."""
        sims = [SimCall(sender, c.contract.address, self.encode(c), c.fn) for c in calls]
        steps = simulator.simulate_each(block, sims, estimate) if sims else []
        return [
            (self._decode(c, s.return_data) if s.ok else None, s)
            for c, s in zip(calls, steps, strict=True)
        ]

    def decode_input(self, contract: Contract, calldata: str) -> tuple[str, dict[str, Any]]:
        fn, args = contract.decode_function_input(calldata)
        return fn.fn_name, dict(args)

    # --- blocks and logs --------------------------------------------------------------------

    def head(self) -> dict[str, Any]:
        block = self.node.request("eth_getBlockByNumber", ["latest", False])
        return {"number": int(block["number"], 16), "timestamp": int(block["timestamp"], 16)}

    def block_times(self, numbers: Sequence[int]) -> dict[int, int]:
        uniq = sorted(set(numbers))
        res = self.node.batch([("eth_getBlockByNumber", [hex(n), False]) for n in uniq])
        return {n: int(b["timestamp"], 16) for n, b in zip(uniq, res, strict=True) if b}

    def gas_price(self) -> int:
        return int(self.node.request("eth_gasPrice", []), 16)

    def balances(self, addresses: Sequence[str], block: str = "latest") -> list[int]:
        res = self.node.batch([("eth_getBalance", [a, block]) for a in addresses])
        return [int(r, 16) for r in res]

    def logs(
        self,
        from_block: int,
        to_block: int,
        addresses: Sequence[str] | None,
        events: Sequence[str],
        max_range: int = 5_000,
    ) -> list[Event]:
        """Decoded logs of the named events in [from_block, to_block], in chain order.
        ``addresses`` None means from any contract (filtered by topic only)."""
        if to_block < from_block:
            return []
        topics = ["0x" + t.hex() for t, (name, _abi) in self._events.items() if name in set(events)]
        flt: dict[str, Any] = {
            "fromBlock": hex(from_block),
            "toBlock": hex(to_block),
            "topics": [topics],
        }
        if addresses is not None:
            if not addresses:
                return []
            flt["address"] = [to_checksum_address(a) for a in addresses]
        out: list[Event] = []
        for start in range(from_block, to_block + 1, max_range):  # providers cap the range
            flt["fromBlock"] = hex(start)
            flt["toBlock"] = hex(min(to_block, start + max_range - 1))
            out += [self._decode_log(x) for x in self.node.request("eth_getLogs", [flt]) or []]
        return out

    def _decode_log(self, log: dict[str, Any]) -> Event:
        topics = [bytes(HexBytes(t)) for t in log["topics"]]
        name, abi = self._events[topics[0]]
        indexed = [i for i in abi["inputs"] if i.get("indexed")]
        plain = [i for i in abi["inputs"] if not i.get("indexed")]
        args: dict[str, Any] = {}
        for inp, topic in zip(indexed, topics[1:], strict=False):
            (args[inp["name"]],) = self.w3.codec.decode(_types([inp]), topic)
        if plain:
            values = self.w3.codec.decode(_types(plain), bytes(HexBytes(log["data"])))
            args.update({inp["name"]: v for inp, v in zip(plain, values, strict=True)})
        return Event(
            name=name,
            address=to_checksum_address(log["address"]),
            block=int(log["blockNumber"], 16),
            tx_hash=str(log["transactionHash"]),
            log_index=int(log["logIndex"], 16),
            args=args,
        )


def _types(inputs: list[dict[str, Any]]) -> list[str]:
    return [abi_type(i) for i in inputs]


@dataclass(frozen=True)
class Event:
    name: str
    address: str
    block: int
    tx_hash: str
    log_index: int
    args: dict[str, Any]
