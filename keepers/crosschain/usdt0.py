"""USDT over USDT0 (a LayerZero V2 OFT): quoteSend + send on the source chain, delivery on the
destination matched by guid.

LayerZero V2 flow: the OFT debits the sender (burn, or lock on Ethereum's adapter) and calls
EndpointV2.send, which emits PacketSent (the encoded packet, guid included). DVNs then verify
the packet on the destination (the receive library calls EndpointV2.verify); after that
*anyone* may execute it with EndpointV2.lzReceive (the executor normally does). So:

- `status`: COMPLETED once an OFTReceived with our guid is on the destination; ATTESTED when
  the endpoint holds the packet's payload hash (verified, not executed); else pending.
- `finalize`: executes a verified packet ourselves (LayerZero's permissionless execution),
  idempotent: a packet already executed (by the executor, a relayer or us) is reported as
  `already_received`. Verification itself comes from a `PacketVerifier`: on live chains the
  DVNs (nothing to do but wait); on local chains `ballast_dev.local.lz_local`.

Amounts: USDT0 moves 6 shared decimals; dust below that stays with the sender, so on an
18-decimal chain `amount_sent <= amount`. Quote and handle carry the exact sent amount.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError

from keepers import abis
from keepers.crosschain.cctp import address_to_bytes32, bytes32_to_address
from keepers.crosschain.routes import (
    FinalizeResult,
    Quote,
    RouteError,
    RouteHandle,
    RouteStatus,
    TxSender,
    approve_if_short,
    deliver,
    send_call,
)
from keepers.tx.simulation import Simulator

SHARED_DECIMALS = 6  # USDT0 / LayerZero OFT default
PACKET_HEADER_LENGTH = 81  # version 1 | nonce 8 | srcEid 4 | sender 32 | dstEid 4 | receiver 32
PACKET_VERSION = 1
PACKET_SENT_TOPIC = keccak(text="PacketSent(bytes,bytes,address)")
OFT_SENT_TOPIC = keccak(text="OFTSent(bytes32,uint32,address,uint256,uint256)")
OFT_RECEIVED_TOPIC = keccak(text="OFTReceived(bytes32,uint32,address,uint256)")
PAYLOAD_HASH_NOT_FOUND_SELECTOR = keccak(text="LZ_PayloadHashNotFound(bytes32,bytes32)")[:4]
EMPTY_PAYLOAD_HASH = b"\x00" * 32
# LayerZero type-3 options (OptionsBuilder in oapp-evm): uint16 type 3, then per option
# workerId (1 = executor) | uint16 size (option type + params) | option type (1 = lzReceive)
# | uint128 gas [| uint128 value].
OPTIONS_TYPE_3 = 3
EXECUTOR_WORKER_ID = 1
OPTION_TYPE_LZRECEIVE = 1
LOCAL_LZ_RECEIVE_GAS = 200_000  # what the local OFT's lzReceive is given (it uses ~60k)


def lz_receive_options(gas: int, value: int = 0) -> bytes:
    """`OptionsBuilder.newOptions().addExecutorLzReceiveOption(gas, value)`: the executor
    option asking for `gas` (and `value` wei) on the destination's lzReceive."""
    limit = 2**128
    if not 0 < gas < limit or not 0 <= value < limit:
        raise ValueError(f"lzReceive gas {gas} / value {value} must fit uint128 (gas > 0)")
    params = gas.to_bytes(16, "big") + (value.to_bytes(16, "big") if value else b"")
    return (
        OPTIONS_TYPE_3.to_bytes(2, "big")
        + EXECUTOR_WORKER_ID.to_bytes(1, "big")
        + (len(params) + 1).to_bytes(2, "big")
        + OPTION_TYPE_LZRECEIVE.to_bytes(1, "big")
        + params
    )


@dataclass(frozen=True)
class LzPacket:
    """PacketV1Codec layout (lz-evm-protocol-v2 messagelib/libs/PacketV1Codec.sol)."""

    nonce: int
    src_eid: int
    sender: bytes
    dst_eid: int
    receiver: bytes
    guid: bytes
    message: bytes

    @classmethod
    def decode(cls, raw: bytes) -> LzPacket:
        if len(raw) < PACKET_HEADER_LENGTH + 32:
            raise ValueError(f"LayerZero packet too short: {len(raw)} bytes")
        if raw[0] != PACKET_VERSION:
            raise ValueError(f"unknown packet version {raw[0]}")
        return cls(
            nonce=int.from_bytes(raw[1:9], "big"),
            src_eid=int.from_bytes(raw[9:13], "big"),
            sender=raw[13:45],
            dst_eid=int.from_bytes(raw[45:49], "big"),
            receiver=raw[49:81],
            guid=raw[81:113],
            message=raw[113:],
        )

    def encode(self) -> bytes:
        return (
            bytes([PACKET_VERSION])
            + self.nonce.to_bytes(8, "big")
            + self.src_eid.to_bytes(4, "big")
            + self.sender
            + self.dst_eid.to_bytes(4, "big")
            + self.receiver
            + self.guid
            + self.message
        )

    @property
    def payload(self) -> bytes:
        return self.guid + self.message

    @property
    def payload_hash(self) -> bytes:
        return keccak(self.payload)

    @property
    def origin(self) -> tuple[int, bytes, int]:
        return (self.src_eid, self.sender, self.nonce)

    @property
    def receiver_address(self) -> str:
        return to_checksum_address(bytes32_to_address(self.receiver))

    def computed_guid(self) -> bytes:
        """GUID.generate: keccak256(nonce u64 | srcEid u32 | sender | dstEid u32 | receiver)."""
        return keccak(
            self.nonce.to_bytes(8, "big")
            + self.src_eid.to_bytes(4, "big")
            + self.sender
            + self.dst_eid.to_bytes(4, "big")
            + self.receiver
        )


def oft_message(to: str, amount_sd: int) -> bytes:
    """OFTMsgCodec without compose: bytes32 sendTo | uint64 amountSD."""
    return address_to_bytes32(to) + amount_sd.to_bytes(8, "big")


@dataclass(frozen=True)
class OftEndpoint:
    """One chain's side of USDT0: the OFT (or adapter), its token, the LayerZero endpoint."""

    chain: str
    w3: Web3
    eid: int
    oft: str
    endpoint: str
    decimals: int  # local decimals of the token the OFT moves (>= 6 shared decimals)
    from_block: int = 0  # where to start looking for OFTReceived logs


class PacketVerifier(Protocol):
    """Gets a sent packet verified on the destination. Live chains: the OApp's DVNs do it, so
    the implementation only reports whether it happened; local chains: lz_local verifies."""

    def verify(self, packet: LzPacket) -> bool: ...


class DvnVerification:
    """Live chains: verification is the DVNs' job; `verify` just reads the endpoint."""

    def __init__(self, dest: OftEndpoint) -> None:
        self.dest = dest

    def verify(self, packet: LzPacket) -> bool:
        return packet_state(self.dest, packet) is not PacketState.SENT


class PacketState(StrEnum):
    SENT = "sent"  # not verified on the destination yet
    VERIFIED = "verified"  # payload hash stored, not executed
    EXECUTED = "executed"  # lzReceive done (payload hash cleared, lazy nonce passed it)


def packet_state(dest: OftEndpoint, packet: LzPacket) -> PacketState:
    ep = dest.w3.eth.contract(
        address=to_checksum_address(dest.endpoint), abi=abis.load("ILzEndpointV2")
    )
    receiver = packet.receiver_address
    stored = bytes(
        ep.functions.inboundPayloadHash(
            receiver, packet.src_eid, packet.sender, packet.nonce
        ).call()
    )
    if stored == packet.payload_hash:
        return PacketState.VERIFIED
    lazy = ep.functions.lazyInboundNonce(receiver, packet.src_eid, packet.sender).call()
    if stored == EMPTY_PAYLOAD_HASH and lazy >= packet.nonce:
        return PacketState.EXECUTED
    return PacketState.SENT


def find_delivery(dest: OftEndpoint, guid: bytes) -> dict[str, Any] | None:
    """The OFTReceived log for `guid` on the destination OFT, or None (matched by guid)."""
    logs = dest.w3.eth.get_logs(
        {
            "address": to_checksum_address(dest.oft),
            "topics": [HexBytes(OFT_RECEIVED_TOPIC), HexBytes(guid)],
            "fromBlock": dest.from_block,
            "toBlock": "latest",
        }
    )
    if not logs:
        return None
    log = logs[0]
    src_eid, amount = dest.w3.codec.decode(["uint32", "uint256"], bytes(log["data"]))
    return {
        "guid": guid,
        "src_eid": src_eid,
        "to": to_checksum_address(bytes(log["topics"][2])[12:]),
        "amount": amount,
        "tx_hash": bytes(log["transactionHash"]),
    }


def packets_in_receipt(receipt: Any, endpoint: str) -> list[LzPacket]:
    out = []
    for log in receipt["logs"]:
        if (
            log["address"].lower() == endpoint.lower()
            and bytes(log["topics"][0]) == PACKET_SENT_TOPIC
        ):
            raw = Web3().codec.decode(["bytes", "bytes", "address"], bytes(log["data"]))[0]
            out.append(LzPacket.decode(raw))
    return out


class Usdt0Route:
    """USDT over USDT0 from `source` to `dest` (OFT or OFT adapter on either side)."""

    name = "USDT0"

    def __init__(
        self,
        source: OftEndpoint,
        dest: OftEndpoint,
        verifier: PacketVerifier,
        sender: TxSender,
        owner: str,
        extra_options: bytes = b"",
        simulator: Simulator | None = None,
    ) -> None:
        self.source, self.dest = source, dest
        self.simulator = simulator  # the destination chain's (None: eth_call)
        self.verifier = verifier
        self.sender = sender
        self.owner = to_checksum_address(owner)
        self.extra_options = extra_options

    def _oft(self) -> Any:
        return self.source.w3.eth.contract(
            address=to_checksum_address(self.source.oft), abi=abis.load("ILzOFT")
        )

    def _send_param(self, amount: int, recipient: str, min_amount: int) -> tuple[Any, ...]:
        return (
            self.dest.eid,
            address_to_bytes32(recipient),
            amount,
            min_amount,
            self.extra_options,
            b"",
            b"",
        )

    def _quote(self, amount: int, recipient: str) -> tuple[int, int]:
        """(amount that crosses, native messaging fee); RouteError when the route is down."""
        if amount <= 0:
            raise RouteError(f"amount must be positive, got {amount}")
        oft = self._oft()
        param = self._send_param(amount, recipient, 0)
        try:
            _limit, _details, (sent, received) = oft.functions.quoteOFT(param).call()
            native_fee, _lz = oft.functions.quoteSend(param, False).call()
        except (ContractCustomError, ContractLogicError) as err:
            raise RouteError(
                f"USDT0 {self.source.chain}->{self.dest.chain} quote refused "
                f"(route down or amount not sendable): {err}"
            ) from err
        if received == 0:
            raise RouteError(f"amount {amount} is below one shared-decimal unit")
        return received, native_fee

    def quote(self, amount: int) -> Quote:
        received, _fee = self._quote(amount, self.owner)
        # What arrives is the shared-decimal amount at the destination's decimals; the dust
        # below one shared unit is not sent (it stays with the sender), so it is no fee.
        shared = received // 10 ** (self.source.decimals - SHARED_DECIMALS)
        out = shared * 10 ** (self.dest.decimals - SHARED_DECIMALS)
        at_dest = _rescale(amount, self.source.decimals, self.dest.decimals)
        return Quote(self.name, amount, at_dest - out, out)

    def initiate(self, amount: int, recipient: str) -> RouteHandle:
        received, native_fee = self._quote(amount, recipient)
        w3 = self.source.w3
        oft = self._oft()
        if oft.functions.approvalRequired().call():
            token = w3.eth.contract(
                address=oft.functions.token().call(), abi=abis.load("IERC20Min")
            )
            approve_if_short(self.sender, w3, token, self.owner, oft.address, amount)
        call = oft.functions.send(
            self._send_param(amount, recipient, received), (native_fee, 0), self.owner
        )
        receipt = send_call(self.sender, w3, oft.address, call, "OFT send", value=native_fee)
        packets = packets_in_receipt(receipt, self.source.endpoint)
        if len(packets) != 1:
            raise RouteError(f"OFT send emitted {len(packets)} PacketSent logs, expected 1")
        packet = packets[0]
        log_index = next(
            int(log["logIndex"])
            for log in receipt["logs"]
            if bytes(log["topics"][0]) == PACKET_SENT_TOPIC
        )
        return RouteHandle(
            self.name,
            self.source.chain,
            self.dest.chain,
            bytes(receipt["transactionHash"]),
            log_index,
            packet.encode(),
            amount=received,
            ref="0x" + packet.guid.hex(),
        )

    def _packet(self, handle: RouteHandle) -> LzPacket:
        packet = LzPacket.decode(handle.message)
        if packet.dst_eid != self.dest.eid:
            raise RouteError(f"packet is for eid {packet.dst_eid}, not {self.dest.eid}")
        return packet

    def status(self, handle: RouteHandle) -> RouteStatus:
        packet = self._packet(handle)
        if find_delivery(self.dest, packet.guid) is not None:
            return RouteStatus.COMPLETED
        if packet_state(self.dest, packet) is PacketState.VERIFIED:
            return RouteStatus.ATTESTED
        return RouteStatus.PENDING_ATTESTATION

    def finalize(self, handle: RouteHandle) -> FinalizeResult:
        packet = self._packet(handle)
        if find_delivery(self.dest, packet.guid) is not None:
            return FinalizeResult(None, already_received=True)
        state = packet_state(self.dest, packet)
        if state is PacketState.EXECUTED:
            return FinalizeResult(None, already_received=True)
        if state is PacketState.SENT and not self.verifier.verify(packet):
            raise RouteError(f"packet {handle.ref} not verified on {self.dest.chain} yet")
        return execute_packet(self.dest, packet, self.sender, self.owner, self.simulator)


def execute_packet(
    dest: OftEndpoint,
    packet: LzPacket,
    sender: TxSender,
    caller: str,
    simulator: Simulator | None = None,
) -> FinalizeResult:
    """EndpointV2.lzReceive for a verified packet; a packet already executed by anyone is
    `already_received` (told apart from every other revert by LZ_PayloadHashNotFound plus the
    endpoint state). Checked first through `simulator` (KEEPER_SIMULATOR's, the destination
    chain's: simulate_each) when given, else by eth_call."""
    ep = dest.w3.eth.contract(
        address=to_checksum_address(dest.endpoint), abi=abis.load("ILzEndpointV2")
    )
    call = ep.functions.lzReceive(
        packet.origin, packet.receiver_address, packet.guid, packet.message, b""
    )

    def executed() -> bool:
        return packet_state(dest, packet) is PacketState.EXECUTED

    return deliver(
        dest.w3,
        call,
        to_checksum_address(caller),
        sender,
        simulator,
        "lzReceive",
        # a payload hash not found: executed already, or never verified (told apart by state)
        lambda selector: selector == PAYLOAD_HASH_NOT_FOUND_SELECTOR and executed(),
        executed,
    )


def _rescale(units: int, from_decimals: int, to_decimals: int) -> int:
    """Base units at other decimals, floored."""
    if to_decimals >= from_decimals:
        return units * 10 ** (to_decimals - from_decimals)
    return units // 10 ** (from_decimals - to_decimals)
