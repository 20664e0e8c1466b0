"""A local stand-in for Circle's Iris API on 127.0.0.1 (ephemeral port), for the client tests.

It answers ``GET /v2/messages/{sourceDomainId}?transactionHash=0x...`` with the documented
shapes (developers.circle.com, API reference "Get messages and attestations"): 200
``{"messages": [...]}`` (status ``pending_confirmations`` without an attestation, or
``complete`` with message, eventNonce, attestation, decodedMessage, cctpVersion), 404 while
"not indexed", 429 with or without Retry-After, a 5xx, or a malformed body. Per transaction it
plays a script (a list of replies; the last one repeats), or asks a resolver (the move test
serves the local attester's attestations of real burns on the local chains).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from web3.exceptions import TransactionNotFound

from keepers.crosschain.cctp import Attested, BurnBody, CctpMessage, bytes32_to_address
from keepers.crosschain.routes import MESSAGE_SENT_TOPIC


@dataclass
class Reply:
    code: int = 200
    body: Any = None  # dict -> JSON; str/bytes -> as is
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


def _u(v: int) -> str:
    return str(v)


def message_json(emitted: bytes, attested: Attested | None) -> dict[str, Any]:
    """One entry of ``messages``: pending (no attestation yet) or complete."""
    if attested is None:
        return {
            "message": "0x",
            "eventNonce": None,
            "attestation": "PENDING",
            "decodedMessage": None,
            "cctpVersion": 2,
            "status": "pending_confirmations",
        }
    msg = CctpMessage.decode(attested.message)
    body = BurnBody.decode(msg.body)
    return {
        "message": "0x" + attested.message.hex(),
        "eventNonce": "0x" + msg.nonce.hex(),
        "attestation": "0x" + attested.attestation.hex(),
        "decodedMessage": {
            "sourceDomain": _u(msg.source_domain),
            "destinationDomain": _u(msg.destination_domain),
            "nonce": "0x" + msg.nonce.hex(),
            "sender": bytes32_to_address(msg.sender),
            "recipient": bytes32_to_address(msg.recipient),
            "destinationCaller": bytes32_to_address(msg.destination_caller),
            "minFinalityThreshold": _u(msg.min_finality_threshold),
            "finalityThresholdExecuted": _u(msg.finality_threshold_executed),
            "messageBody": "0x" + msg.body.hex(),
            "decodedMessageBody": {
                "burnToken": bytes32_to_address(body.burn_token),
                "mintRecipient": bytes32_to_address(body.mint_recipient),
                "amount": _u(body.amount),
                "messageSender": bytes32_to_address(body.message_sender),
                "maxFee": _u(body.max_fee),
                "feeExecuted": _u(body.fee_executed),
                "expirationBlock": _u(body.expiration_block),
                "hookData": "0x" + body.hook_data.hex(),
            },
        },
        "cctpVersion": 2,
        "status": "complete",
    }


def pending(emitted: bytes) -> Reply:
    return Reply(200, {"messages": [message_json(emitted, None)]})


def complete(*pairs: tuple[bytes, Attested]) -> Reply:
    return Reply(200, {"messages": [message_json(e, a) for e, a in pairs]})


NOT_FOUND = Reply(404, {"error": "Message hash not found"})


class FakeIris:
    """The server; `script[(domain, tx_hex)]` or `resolver(domain, tx_hex)` gives replies."""

    def __init__(self, resolver: Callable[[int, str], Reply] | None = None) -> None:
        self.script: dict[tuple[int, str], list[Reply]] = {}
        self.resolver = resolver
        self.requests: list[tuple[str, dict[str, list[str]], float]] = []
        self.clock: Callable[[], float] = time.monotonic  # what a request's time is read from
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                parsed = urlparse(self.path)
                query = parse_qs(parsed.query)
                outer.requests.append((parsed.path, query, outer.clock()))
                reply = outer._reply(parsed.path, query)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if isinstance(reply.body, dict | list):
                    raw = json.dumps(reply.body).encode()
                elif isinstance(reply.body, str):
                    raw = reply.body.encode()
                else:
                    raw = reply.body or b""
                try:
                    self.send_response(reply.code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def _reply(self, path: str, query: dict[str, list[str]]) -> Reply:
        parts = path.strip("/").split("/")
        if len(parts) != 3 or parts[:2] != ["v2", "messages"] or not parts[2].isdigit():
            return Reply(404, {"error": f"no route {path}"})
        tx = (query.get("transactionHash") or [""])[0].lower()
        if not tx:
            return Reply(400, {"error": "transactionHash or nonce is required"})
        key = (int(parts[2]), tx)
        if key in self.script:
            replies = self.script[key]
            return replies.pop(0) if len(replies) > 1 else replies[0]
        if self.resolver is not None:
            return self.resolver(*key)
        return NOT_FOUND

    def play(self, domain: int, tx_hash: bytes, *replies: Reply) -> None:
        self.script[(domain, "0x" + tx_hash.hex())] = list(replies)

    def __enter__(self) -> FakeIris:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def chain_resolver(scene, script: list[Reply | str]):
    """Iris over the local chains: per burn tx, the next scripted reply; "pending",
    "delayed:<delayReason>" and "complete" are built from the tx's MessageSent logs (attested by the local attester)."""
    attester = scene.attestations.inner.attester
    served: dict[str, int] = {}

    def resolve(domain: int, tx: str) -> Reply:
        side = next(
            (s for s in scene.sides.values() if s.spec.cctp_domain == domain),
            None,
        )
        if side is None:
            return NOT_FOUND
        try:
            receipt = side.w3.eth.get_transaction_receipt(tx)
        except TransactionNotFound:
            return NOT_FOUND
        burns = [
            (bytes(side.w3.codec.decode(["bytes"], bytes(lg["data"]))[0]), int(lg["logIndex"]))
            for lg in receipt["logs"]
            if lg["address"].lower() == side.transmitter.address.lower()
            and bytes(lg["topics"][0]) == MESSAGE_SENT_TOPIC
        ]
        if not burns:
            return NOT_FOUND
        i = served.get(tx, 0)
        served[tx] = i + 1
        step = script[min(i, len(script) - 1)]
        if step == "pending":
            return pending(burns[0][0])
        if isinstance(step, str) and step.startswith("delayed:"):  # Circle says why it waits
            held = pending(burns[0][0])
            held.body["messages"][0]["delayReason"] = step.removeprefix("delayed:")
            return held
        if step == "complete":
            tx_hash = bytes.fromhex(tx.removeprefix("0x"))
            return complete(*[(m, attester.attest(m, tx_hash, li)) for m, li in burns])
        assert isinstance(step, Reply)
        return step

    return resolve
