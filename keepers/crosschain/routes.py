"""Route adapters: how one planned leg crosses chains (quote, initiate, status, finalize).

Each adapter is I/O at the edge: it reads chains through web3 and sends transactions through
an injected `TxSender`, so the persisted transaction pipeline (keepers/tx) can be plugged
in without changing the adapter. The CCTP adapter follows Circle's V2 flow: approve +
depositForBurn on the source chain (Transfer_Out), wait for the attestation (Cross), then
receiveMessage on the destination chain (Transfer_In). `finalize` is idempotent: a message
already received (by us or by anyone else relaying it) reports `already_received` instead of
failing, and "nonce already used" is told apart from every other revert. The check before
`receiveMessage` is sent goes through the keeper's simulator (KEEPER_SIMULATOR,
keepers.tx.simulation ``simulate_each``: the destination node's eth_simulateV1) when the route
is given one (`build_crosschain_bot` does, per chain); a route built by hand without one checks
with eth_call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError

from keepers import abis
from keepers.core.errors import ChainError
from keepers.crosschain.cctp import (
    FINALITY_FINALIZED,
    Attested,
    CctpMessage,
    LocalCctpAttester,
    address_to_bytes32,
)
from keepers.tx.simulation import SimCall, Simulator


class RouteStatus(StrEnum):
    """Where a leg is. PENDING_ATTESTATION: the route's off-chain step (Circle attestation,
    LayerZero DVN verification, CEX deposit credit) has not happened yet. ATTESTED: ready for
    `finalize`. IN_FLIGHT: finalize was done, the destination payout is still pending (CEX
    withdrawal processing). COMPLETED: paid on the destination. FAILED: the route gave up
    (a rejected CEX withdrawal); the funds are where the route left them."""

    PENDING_ATTESTATION = "pending_attestation"
    ATTESTED = "attested"
    IN_FLIGHT = "in_flight"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True)
class Quote:
    """Amounts of one leg. Decimals may differ between the chains (USDT: 6 on Ethereum, 18 on
    BSC), so `max_fee` and `min_received` are in *destination* base units."""

    route: str
    amount: int  # source token base units
    max_fee: int  # route keeps at most this: amount at dest decimals (floored) - min_received
    min_received: int  # destination token base units


@dataclass(frozen=True)
class RouteHandle:
    """What `initiate` leaves behind; persisted by the caller so a restart can resume."""

    route: str
    source_chain: str
    dest_chain: str
    tx_hash: bytes
    log_index: int
    message: bytes  # the message as emitted on the source chain (CCTP: nonce not yet assigned)
    amount: int = 0  # source base units that left the owner (all routes but CCTP set it)
    ref: str = ""  # route-specific id: LayerZero guid (0x hex), CEX withdrawal order id


@dataclass(frozen=True)
class FinalizeResult:
    tx_hash: bytes | None
    already_received: bool


class RouteError(ChainError):
    """A leg cannot proceed on this route."""


class RouteDeferred(RouteError):  # noqa: N818 - a wait, not a failure
    """The route's off-chain service asks to be left alone for `retry_after_s` seconds (rate
    limited, or failing for now). The move engine retries the step after that wait on its own
    clock and does not count it as a failed attempt."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = max(0.0, float(retry_after_s))


class RouteRejected(RouteError):  # noqa: N818 - named for what the service said
    """The route's off-chain service refused the request for good (Iris: HTTP 400, a bad
    transaction hash or domain; 401/403): asking again cannot succeed, so it is not retried
    as a transient failure. A configuration error: the move holds and the bot raises a
    critical alert naming the move and the answer."""


class RouteDelayed(RouteDeferred):  # noqa: N818 - a wait, not a failure
    """The service says why the attestation is held back (Iris's ``delayReason``, e.g.
    ``insufficient_fee``, ``amount_above_max``): the move waits as for any deferral, and the
    reason is kept so the bot can alert with it."""

    def __init__(self, reason: str, retry_after_s: float) -> None:
        super().__init__(
            f"iris: attestation delayed by Circle (delayReason {reason})", retry_after_s
        )
        self.reason = reason


class NonceAlreadyUsedError(RouteError):
    """The destination has already received this message (reported distinctly)."""


class TxSender(Protocol):
    """Sends one transaction and returns its receipt (the pipeline implements this)."""

    def send(self, w3: Web3, to: str, data: bytes, value: int = 0) -> Any: ...


class RouteAdapter(Protocol):
    name: str

    def quote(self, amount: int) -> Quote: ...

    def initiate(self, amount: int, recipient: str) -> RouteHandle: ...

    def status(self, handle: RouteHandle) -> RouteStatus: ...

    def finalize(self, handle: RouteHandle) -> FinalizeResult: ...


class AttestationSource(Protocol):
    """Circle's attestation service on live chains (`keepers.crosschain.iris`),
    `LocalAttestations` on local ones. None while not attested; `RouteDeferred` to wait."""

    def fetch(self, handle: RouteHandle) -> Attested | None: ...


class LocalAttestations:
    """Local chains: attest at once with a local key (test stand-in for Circle's Iris)."""

    def __init__(self, attester: LocalCctpAttester, finality: int = FINALITY_FINALIZED) -> None:
        self.attester = attester
        self.finality = finality

    def fetch(self, handle: RouteHandle) -> Attested | None:
        return self.attester.attest(handle.message, handle.tx_hash, handle.log_index, self.finality)


# --------------------------------------------------------------------------- CCTP V2

MESSAGE_SENT_TOPIC = keccak(text="MessageSent(bytes)")
NONCE_ALREADY_USED_SELECTOR = keccak(text="NonceAlreadyUsed(bytes32)")[:4]


@dataclass(frozen=True)
class CctpEndpoint:
    chain: str
    w3: Web3
    domain: int
    token_messenger: str
    message_transmitter: str
    token: str


class CctpRoute:
    """USDC over CCTP V2 from `source` to `dest` (same adapter for Circle's contracts and
    the local stand-ins: both speak the V2 interface)."""

    name = "CCTP"

    def __init__(
        self,
        source: CctpEndpoint,
        dest: CctpEndpoint,
        attestations: AttestationSource,
        sender: TxSender,
        owner: str,
        max_fee: int = 0,
        finality: int = FINALITY_FINALIZED,
        simulator: Simulator | None = None,
    ) -> None:
        self.source, self.dest = source, dest
        self.simulator = simulator  # the destination chain's (None: eth_call)
        self.attestations = attestations
        self.sender = sender
        self.owner = to_checksum_address(owner)
        self.max_fee = max_fee
        self.finality = finality

    def quote(self, amount: int) -> Quote:
        if amount <= self.max_fee:
            raise RouteError(f"amount {amount} must exceed the max fee {self.max_fee}")
        return Quote(self.name, amount, self.max_fee, amount - self.max_fee)

    def initiate(self, amount: int, recipient: str) -> RouteHandle:
        self.quote(amount)
        w3 = self.source.w3
        token = w3.eth.contract(
            address=to_checksum_address(self.source.token), abi=abis.load("IERC20Min")
        )
        messenger_addr = to_checksum_address(self.source.token_messenger)
        approve_if_short(self.sender, w3, token, self.owner, messenger_addr, amount)
        messenger = w3.eth.contract(address=messenger_addr, abi=abis.load("ICctpTokenMessengerV2"))
        call = messenger.functions.depositForBurn(
            amount,
            self.dest.domain,
            address_to_bytes32(recipient),
            to_checksum_address(self.source.token),
            b"\x00" * 32,
            self.max_fee,
            self.finality,
        )
        receipt = send_call(self.sender, w3, messenger_addr, call, "depositForBurn")
        for log in receipt["logs"]:
            if (
                log["address"].lower() == self.source.message_transmitter.lower()
                and bytes(log["topics"][0]) == MESSAGE_SENT_TOPIC
            ):
                raw = w3.codec.decode(["bytes"], bytes(log["data"]))[0]
                return RouteHandle(
                    self.name,
                    self.source.chain,
                    self.dest.chain,
                    bytes(receipt["transactionHash"]),
                    int(log["logIndex"]),
                    raw,
                )
        raise RouteError("depositForBurn emitted no MessageSent")

    def status(self, handle: RouteHandle) -> RouteStatus:
        attested = self.attestations.fetch(handle)
        if attested is None:
            return RouteStatus.PENDING_ATTESTATION
        if self._received(attested):
            return RouteStatus.COMPLETED
        return RouteStatus.ATTESTED

    def finalize(self, handle: RouteHandle) -> FinalizeResult:
        attested = self.attestations.fetch(handle)
        if attested is None:
            raise RouteError("no attestation yet")
        msg = CctpMessage.decode(attested.message)
        if msg.destination_domain != self.dest.domain:
            raise RouteError(f"message is for domain {msg.destination_domain}")
        if self._received(attested):
            return FinalizeResult(None, already_received=True)
        call = self._transmitter().functions.receiveMessage(attested.message, attested.attestation)
        return deliver(
            self.dest.w3,
            call,
            self.owner,
            self.sender,
            self.simulator,
            "receiveMessage",
            lambda selector: selector == NONCE_ALREADY_USED_SELECTOR,  # a replay, told apart
            lambda: self._received(attested),
        )

    def _transmitter(self) -> Any:
        return self.dest.w3.eth.contract(
            address=to_checksum_address(self.dest.message_transmitter),
            abi=abis.load("ICctpMessageTransmitterV2"),
        )

    def _received(self, attested: Attested) -> bool:
        return self._transmitter().functions.usedNonces(attested.nonce).call() != 0


def encoded_call(call: Any) -> bytes:
    return bytes.fromhex(call._encode_transaction_data().removeprefix("0x"))


def reverted(receipt: Any, what: str) -> str:
    """``<what> reverted in 0x<hash>``: the words for a sent transaction that reverted."""
    return f"{what} reverted in 0x{bytes(receipt['transactionHash']).hex()}"


def send_call(
    sender: TxSender,
    w3: Web3,
    to: str,
    call: Any,
    what: str,
    *,
    value: int = 0,
    error: type[Exception] = RouteError,
) -> Any:
    """``call`` sent to ``to``, and its receipt; ``error`` (``reverted``'s words, naming
    ``what``) when it reverted."""
    receipt = sender.send(w3, to, encoded_call(call), value=value)
    if receipt["status"] != 1:
        raise error(reverted(receipt, what))
    return receipt


def approve_if_short(
    sender: TxSender, w3: Web3, token: Any, owner: str, spender: str, amount: int
) -> None:
    """One ``approve(spender, amount)`` of the owner's ``token`` when its allowance is short."""
    if token.functions.allowance(owner, spender).call() < amount:
        sender.send(w3, token.address, encoded_call(token.functions.approve(spender, amount)))


def deliver(
    w3: Web3,
    call: Any,
    caller: str,
    sender: TxSender,
    simulator: Simulator | None,
    what: str,
    delivered_by: Callable[[bytes], bool],
    delivered: Callable[[], bool],
) -> FinalizeResult:
    """A destination chain's delivery (CCTP's receiveMessage, LayerZero's lzReceive) sent by
    ``sender`` unless it is delivered already, by us or by anyone relaying it. It is checked
    first through ``simulator`` (the destination chain's ``simulate_each``) when given, else by
    eth_call from ``caller``: a revert whose selector ``delivered_by`` recognises is
    ``already_received``, any other a RouteError naming ``what``; a sent delivery that reverts
    is ``already_received`` when ``delivered()`` (someone delivered it in between)."""
    if simulator is not None:
        (step,) = simulator.simulate_each(
            "latest", [SimCall(caller, call.address, "0x" + encoded_call(call).hex(), what)]
        )
        if not step.ok:
            if delivered_by(revert_selector(step.revert_data)):
                return FinalizeResult(None, already_received=True)
            raise RouteError(f"{what} would revert: {step.error}")
    else:
        try:
            call.call({"from": caller})
        except (ContractCustomError, ContractLogicError) as err:
            if delivered_by(revert_selector(err)):
                return FinalizeResult(None, already_received=True)
            raise RouteError(f"{what} would revert: {err}") from err
    receipt = sender.send(w3, call.address, encoded_call(call))
    if receipt["status"] != 1:
        if delivered():
            return FinalizeResult(None, already_received=True)
        raise RouteError(reverted(receipt, what))
    return FinalizeResult(bytes(receipt["transactionHash"]), already_received=False)


def revert_selector(revert: Any) -> bytes:
    """The 4-byte selector of a revert: of an eth_call's error (web3 carries the data in
    ``data`` or its second argument) or of a simulation step's ``revert_data`` (hex); b""
    when there is none."""
    if isinstance(revert, Exception):
        revert = getattr(revert, "data", None) or (revert.args[1] if len(revert.args) > 1 else None)
    if isinstance(revert, str):
        try:
            revert = bytes.fromhex(revert.removeprefix("0x")[:8]) if len(revert) >= 10 else b""
        except ValueError:
            return b""
    return bytes(revert[:4]) if isinstance(revert, bytes | bytearray) else b""


def _is_nonce_used(err: Exception) -> bool:
    return revert_selector(err) == NONCE_ALREADY_USED_SELECTOR


class Web3Sender:
    """Minimal sender for local chains with unlocked accounts (anvil): eth_sendTransaction
    and wait. The production keeper uses the persisted pipeline instead."""

    def __init__(self, account: str) -> None:
        self.account = to_checksum_address(account)

    def send(self, w3: Web3, to: str, data: bytes, value: int = 0) -> Any:
        tx = {"from": self.account, "to": to, "data": data, "value": value}
        tx_hash = w3.eth.send_transaction(tx)  # type: ignore[arg-type]
        return w3.eth.wait_for_transaction_receipt(tx_hash)
