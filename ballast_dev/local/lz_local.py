"""LOCAL CHAINS ONLY: LayerZero V2 on anvil, with the real EndpointV2 and SimpleMessageLib.

The bytecode comes from the npm package `@layerzerolabs/lz-evm-protocol-v2` (artifacts carry
unlinked-free bytecode). `LocalLzVerifier` stands in for the DVNs: it calls
SimpleMessageLib.validatePacket on the destination, which calls EndpointV2.verify.
`LocalLzRelayer` stands in for the executor: it reads PacketSent from the source endpoint,
verifies and executes each packet with EndpointV2.lzReceive. Re-relaying a delivered packet is
harmless (reported as already delivered). Never used against a live network: on live chains
LayerZero's DVNs and executor do this.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3 import Web3

from keepers.crosschain.routes import FinalizeResult, RouteError, TxSender, encoded_call
from keepers.crosschain.usdt0 import (
    PACKET_SENT_TOPIC,
    LzPacket,
    OftEndpoint,
    PacketState,
    execute_packet,
    packet_state,
)

LZ_PACKAGE = "@layerzerolabs/lz-evm-protocol-v2"
LZ_VERSION = "3.0.168"
_ARTIFACTS = {
    "EndpointV2": "contracts/EndpointV2.sol/EndpointV2.json",
    "SimpleMessageLib": "contracts/messagelib/SimpleMessageLib.sol/SimpleMessageLib.json",
}
DEPLOY_GAS = 15_000_000  # EndpointV2 is ~24 kB of runtime code and deploys BlockedMessageLib


def load_artifact(name: str, node_modules: Path | None = None) -> tuple[list[Any], bytes]:
    root = node_modules or Path(__file__).resolve().parents[2] / "node_modules"
    path = root / LZ_PACKAGE / "artifacts" / _ARTIFACTS[name]
    if not path.exists():
        raise FileNotFoundError(f"{path} missing: npm install {LZ_PACKAGE}@{LZ_VERSION}")
    art = json.loads(path.read_text())
    if art.get("linkReferences"):
        raise ValueError(f"{name} needs linking: {art['linkReferences']}")
    return art["abi"], bytes.fromhex(art["bytecode"].removeprefix("0x"))


def deploy_contract(w3: Web3, abi: list[Any], bytecode: bytes, sender: str, *args: Any) -> str:
    """Deploy from an unlocked anvil account; returns the address."""
    tx = (
        w3.eth.contract(abi=abi, bytecode=bytecode)
        .constructor(*args)
        .build_transaction({"from": to_checksum_address(sender), "gas": DEPLOY_GAS})
    )
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(tx))
    if receipt["status"] != 1 or not receipt["contractAddress"]:
        raise RuntimeError(f"deployment reverted ({len(bytecode)} bytes of init code)")
    return str(receipt["contractAddress"])


@dataclass(frozen=True)
class LocalLz:
    """One local chain's LayerZero: the real EndpointV2 and its SimpleMessageLib."""

    w3: Web3
    eid: int
    endpoint: str
    lib: str

    def endpoint_contract(self) -> Any:
        return self.w3.eth.contract(
            address=to_checksum_address(self.endpoint), abi=load_artifact("EndpointV2")[0]
        )

    def lib_contract(self) -> Any:
        return self.w3.eth.contract(
            address=to_checksum_address(self.lib), abi=load_artifact("SimpleMessageLib")[0]
        )


def deploy_local_lz(w3: Web3, eid: int, owner: str, remote_eids: list[int]) -> LocalLz:
    """Deploy EndpointV2(eid, owner) + SimpleMessageLib, register the library and make it the
    default send and receive library for every remote eid."""
    ep_abi, ep_code = load_artifact("EndpointV2")
    lib_abi, lib_code = load_artifact("SimpleMessageLib")
    owner = to_checksum_address(owner)
    endpoint = deploy_contract(w3, ep_abi, ep_code, owner, eid, owner)
    lib = deploy_contract(w3, lib_abi, lib_code, owner, endpoint, owner)
    ep = w3.eth.contract(address=to_checksum_address(endpoint), abi=ep_abi)

    def tx(call: Any) -> None:
        receipt = w3.eth.wait_for_transaction_receipt(call.transact({"from": owner}))
        if receipt["status"] != 1:
            raise RuntimeError(f"endpoint wiring reverted: {call.fn_name}")

    tx(ep.functions.registerLibrary(lib))
    for remote in remote_eids:
        tx(ep.functions.setDefaultSendLibrary(remote, lib))
        tx(ep.functions.setDefaultReceiveLibrary(remote, lib, 0))
    return LocalLz(w3, eid, endpoint, lib)


class LocalLzVerifier:
    """LOCAL ONLY DVN stand-in: SimpleMessageLib.validatePacket on the destination."""

    def __init__(self, dest: OftEndpoint, lib: str, sender: TxSender) -> None:
        self.dest = dest
        self.lib = to_checksum_address(lib)
        self.sender = sender

    def verify(self, packet: LzPacket) -> bool:
        if packet_state(self.dest, packet) is not PacketState.SENT:
            return True  # verified already, or even executed
        lib = self.dest.w3.eth.contract(address=self.lib, abi=load_artifact("SimpleMessageLib")[0])
        receipt = self.sender.send(
            self.dest.w3, self.lib, encoded_call(lib.functions.validatePacket(packet.encode()))
        )
        if receipt["status"] != 1:
            raise RouteError(f"validatePacket reverted for guid 0x{packet.guid.hex()}")
        return packet_state(self.dest, packet) is not PacketState.SENT


class LocalLzRelayer:
    """LOCAL ONLY executor stand-in: delivers what the source endpoint sent to `dest`."""

    def __init__(
        self,
        source_w3: Web3,
        source_endpoint: str,
        dest: OftEndpoint,
        verifier: LocalLzVerifier,
        sender: TxSender,
        caller: str,
    ) -> None:
        self.source_w3 = source_w3
        self.source_endpoint = to_checksum_address(source_endpoint)
        self.dest = dest
        self.verifier = verifier
        self.sender = sender
        self.caller = caller

    def sent_packets(self, from_block: int = 0) -> list[LzPacket]:
        logs = self.source_w3.eth.get_logs(
            {
                "address": self.source_endpoint,
                "topics": [HexBytes(PACKET_SENT_TOPIC)],
                "fromBlock": from_block,
                "toBlock": "latest",
            }
        )
        packets = []
        for log in logs:
            raw = self.source_w3.codec.decode(["bytes", "bytes", "address"], bytes(log["data"]))[0]
            packet = LzPacket.decode(raw)
            if packet.dst_eid == self.dest.eid:
                packets.append(packet)
        return packets

    def deliver(self, packet: LzPacket) -> FinalizeResult:
        if packet.computed_guid() != packet.guid:
            raise RouteError(f"guid 0x{packet.guid.hex()} does not match the packet header")
        if packet_state(self.dest, packet) is PacketState.EXECUTED:
            return FinalizeResult(None, already_received=True)
        self.verifier.verify(packet)
        return execute_packet(self.dest, packet, self.sender, self.caller)

    def relay(self, from_block: int = 0) -> dict[bytes, FinalizeResult]:
        """Deliver every packet sent to `dest` since `from_block`, keyed by guid."""
        return {p.guid: self.deliver(p) for p in self.sent_packets(from_block)}
