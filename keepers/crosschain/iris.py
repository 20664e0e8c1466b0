"""Circle's CCTP V2 attestation service (Iris): the client and the `AttestationSource` that the
CCTP route uses on real networks (`LocalAttestations` stays the one for local chains).

What Circle documents (developers.circle.com, "CCTP APIs" and the API reference of
``GET /v2/messages/{sourceDomainId}``):

- hosts: sandbox (testnets) ``https://iris-api-sandbox.circle.com``, mainnet
  ``https://iris-api.circle.com``;
- ``GET /v2/messages/{sourceDomainId}?transactionHash=0x...`` answers
  ``{"messages": [{"message": "0x..", "eventNonce": "..", "attestation": "0x..",
  "decodedMessage": {...}, "cctpVersion": 2, "status": "complete" | "pending_confirmations",
  "delayReason": ...}]}``, one entry per MessageSent of the transaction, by ascending log
  index; while a message waits for confirmations its attestation is not there yet;
- 404 until the service has observed and indexed the burn (expected, keep polling);
  ``{"messages": []}`` when found but not processed;
- rate limit 35 requests per second; above it the service blocks *every* request for
  5 minutes and answers 429. Circle asks for a poll interval of at least 5 seconds.

This client therefore (a) caps its own request rate well below 35/s (default 10/s, at most
30/s, requests spaced 1/cap apart across threads), (b) after a 429 sends nothing until the lockout is over (``Retry-After`` when the
answer carries one, else 300 s), (c) asks about one burn at most every ``min_poll_interval_s``
and (d) keeps a complete attestation, so the Cross, Transfer_In and received-amount reads of
one move cost one request. Outcomes are typed (`IrisStatus`); transient ones reach the move
engine as `RouteDeferred` with the wait, which the engine adds to the ``now`` it was given.
"""

from __future__ import annotations

import email.utils
import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from keepers.crosschain.cctp import HEADER_LENGTH, Attested, CctpMessage
from keepers.crosschain.iris_config import (
    IrisConfig,
)
from keepers.crosschain.routes import RouteDeferred, RouteDelayed, RouteHandle, RouteRejected

STATUS_COMPLETE = "complete"
MAX_BACKOFF_S = 3600.0  # no back-off grows past an hour


class IrisStatus(StrEnum):
    COMPLETE = "complete"  # at least one message attested
    PENDING = "pending"  # found, waiting for confirmations (or found but not processed)
    NOT_FOUND = "not_found"  # 404: not observed / indexed yet
    RATE_LIMITED = "rate_limited"  # 429 or the client's own lockout / cap
    ERROR = "error"  # server error, malformed answer, timeout, connection refused
    REJECTED = "rejected"  # 400 (bad hash or domain), 401, 403...: asking again cannot help


@dataclass(frozen=True)
class IrisMessage:
    message: bytes | None  # None while Iris has not filled it in
    attestation: bytes | None  # None until status is complete
    status: str
    event_nonce: str | None = None
    cctp_version: int | None = None
    delay_reason: str | None = None

    @property
    def complete(self) -> bool:
        return self.status == STATUS_COMPLETE and bool(self.attestation) and bool(self.message)


@dataclass(frozen=True)
class IrisResult:
    status: IrisStatus
    messages: tuple[IrisMessage, ...] = ()
    retry_after_s: float = 0.0  # for RATE_LIMITED / ERROR: how long to wait
    detail: str = ""


def _hex(value: Any) -> bytes | None:
    """0x-hex to bytes; None for absent, empty, or Iris's placeholder ("PENDING")."""
    if not isinstance(value, str) or not value.startswith("0x") or len(value) <= 2:
        return None
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        return None


def parse_messages(payload: Any) -> tuple[IrisMessage, ...]:
    """The ``messages`` of a 200 answer; ValueError when the shape is not the documented one."""
    if not isinstance(payload, dict) or not isinstance(payload.get("messages"), list):
        raise ValueError(f"no 'messages' list in the answer: {str(payload)[:200]}")
    out = []
    for i, m in enumerate(payload["messages"]):
        if not isinstance(m, dict) or not isinstance(m.get("status"), str):
            raise ValueError(f"messages[{i}] has no status: {str(m)[:200]}")
        version = m.get("cctpVersion")
        out.append(
            IrisMessage(
                message=_hex(m.get("message")),
                attestation=_hex(m.get("attestation")),
                status=m["status"],
                event_nonce=None if m.get("eventNonce") is None else str(m["eventNonce"]),
                cctp_version=int(version)
                if isinstance(version, int | str) and str(version).isdigit()
                else None,
                delay_reason=m.get("delayReason"),
            )
        )
    return tuple(out)


def _retry_after(value: str | None, now_wall: float) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now_wall)


class IrisClient:
    """GET /v2/messages/{domain}?transactionHash=... with the limits of the module doc.

    Thread-safe (moves advance in parallel threads and share one client). `clock` is a
    monotonic clock for the rate cap and the lockout (real seconds: Circle's lockout runs on
    Circle's clock, not on a simulated one); `sleep` waits for a slot under the cap."""

    def __init__(
        self,
        config: IrisConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        max_wait_s: float = 2.0,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self.base_url = config.url
        self.clock = clock
        self.sleep = sleep
        self.max_wait_s = max_wait_s
        self._lock = threading.Lock()
        self._next_at = 0.0  # no request before this (the cap's spacing)
        self.blocked_until = 0.0
        self.requests = 0  # requests actually sent (for tests and metrics)
        self.errors_in_a_row = 0  # server errors, timeouts, malformed answers: back off more
        self.limited_in_a_row = 0  # 429s without an answer in between: back off more
        self.jitter = jitter  # in [0, 1): spreads replicas' retries after a 429

    # ------------------------------------------------------------------ limits

    def _slot(self) -> float | None:
        """Reserve a request slot: None when reserved; a positive wait during a lockout; a
        negative one (minus the wait) while the spacing of the cap is not over. Requests are
        spaced 1/cap apart (no bursts), so no second holds more than cap + 1 of them."""
        with self._lock:
            now = self.clock()
            if now < self.blocked_until:
                return self.blocked_until - now
            if now < self._next_at:
                return -max(self._next_at - now, 1e-6)
            self._next_at = now + 1.0 / self.config.max_requests_per_s
            return None

    def _acquire(self) -> float | None:
        """Wait for a slot under the cap (at most `max_wait_s`); the lockout left otherwise."""
        waited = 0.0
        while True:
            got = self._slot()
            if got is None:
                return None
            if got > 0:
                return got
            if waited - got > self.max_wait_s:
                return -got
            self.sleep(-got)
            waited -= got

    def _lock_out(self, seconds: float) -> None:
        with self._lock:
            self.blocked_until = max(self.blocked_until, self.clock() + seconds)

    # ------------------------------------------------------------------ the call

    def messages(self, source_domain: int, tx_hash: bytes | str) -> IrisResult:
        """Messages of the burn transaction `tx_hash` on `source_domain`, as a typed result."""
        h = tx_hash if isinstance(tx_hash, str) else "0x" + tx_hash.hex()
        if not h.startswith("0x"):
            h = "0x" + h
        wait = self._acquire()
        if wait is not None:
            return IrisResult(
                IrisStatus.RATE_LIMITED, retry_after_s=wait, detail="client-side limit"
            )
        url = f"{self.base_url}/v2/messages/{int(source_domain)}?transactionHash={h}"
        req = urllib.request.Request(url, headers={"Accept": "application/json"})
        self.requests += 1
        try:
            with urllib.request.urlopen(req, timeout=self.config.timeout_s) as resp:
                body = resp.read()
        except urllib.error.HTTPError as err:
            return self._http_error(err)
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            return self._error(f"request failed: {getattr(err, 'reason', err)}")
        try:
            parsed = parse_messages(json.loads(body))
        except (ValueError, UnicodeDecodeError) as err:
            return self._error(f"malformed answer: {err}")
        self.errors_in_a_row = 0
        self.limited_in_a_row = 0
        if any(m.complete for m in parsed):
            return IrisResult(IrisStatus.COMPLETE, parsed)
        return IrisResult(IrisStatus.PENDING, parsed, detail="pending confirmations")

    def _error(self, detail: str) -> IrisResult:
        """A transient failure: back off `error_backoff_s`, doubled per failure in a row."""
        with self._lock:
            n = self.errors_in_a_row
            self.errors_in_a_row += 1
        wait = min(self.config.error_backoff_s * 2 ** min(n, 6), MAX_BACKOFF_S)
        return IrisResult(IrisStatus.ERROR, retry_after_s=wait, detail=detail)

    def _http_error(self, err: urllib.error.HTTPError) -> IrisResult:
        if err.code == 404:
            self.errors_in_a_row = 0
            return IrisResult(IrisStatus.NOT_FOUND, detail="404: not indexed yet")
        if err.code == 429:
            return self._rate_limited(err.headers.get("Retry-After"))
        if 400 <= err.code < 500:
            try:
                said = err.read()[:200].decode("utf-8", "replace")
            except OSError:
                said = ""
            return IrisResult(
                IrisStatus.REJECTED,
                detail=f"HTTP {err.code} from Iris (a permanent answer: check the source "
                f"domain and the transaction hash){': ' + said if said else ''}",
            )
        return self._error(f"HTTP {err.code} from Iris")

    def _rate_limited(self, retry_after: str | None) -> IrisResult:
        """A 429: Circle blocks every request for its lockout (5 minutes) and asks clients to
        back off. Wait what Retry-After says (Circle's lockout when it is absent), doubled per
        429 in a row (at most an hour), plus up to 10% jitter so replicas do not return
        together."""
        after = _retry_after(retry_after, time.time())
        with self._lock:
            n = self.limited_in_a_row
            self.limited_in_a_row += 1
        base = self.config.lockout_s if after is None else after
        grown = min(base * 2 ** min(n, 6), MAX_BACKOFF_S)
        wait = grown + grown * 0.1 * self.jitter()
        self._lock_out(wait)
        return IrisResult(
            IrisStatus.RATE_LIMITED,
            retry_after_s=wait,
            detail=f"429 from Iris ({n + 1} in a row): no request for {wait:.0f} s",
        )


# What Iris fills in when it attests a CCTP V2 message, as (offset, length) in the whole
# message: the header's nonce and finalityThresholdExecuted, and in the BurnMessageV2 body
# feeExecuted and expirationBlock (Circle, "CCTP message format": body offsets 164 and 196).
ATTESTER_FILLED: tuple[tuple[int, int], ...] = (
    (12, 32),  # nonce
    (144, 4),  # finalityThresholdExecuted
    (HEADER_LENGTH + 164, 32),  # BurnMessageV2 feeExecuted
    (HEADER_LENGTH + 196, 32),  # BurnMessageV2 expirationBlock
)


def same_burn(emitted: bytes, attested: bytes) -> bool:
    """Is `attested` the message `emitted` on the source chain, as Iris fills it in? Iris sets
    the nonce, the executed finality, the executed fee and the expiration block (every field
    in ATTESTER_FILLED); every other byte must match."""
    if len(emitted) != len(attested) or len(emitted) < HEADER_LENGTH:
        return False

    def masked(raw: bytes) -> bytes:
        b = bytearray(raw)
        for start, length in ATTESTER_FILLED:
            if len(b) >= start + length:
                b[start : start + length] = bytes(length)
        return bytes(b)

    return masked(emitted) == masked(attested)


class IrisAttestations:
    """`AttestationSource` backed by Circle's Iris: `fetch` returns the attested message of
    a CCTP route handle, None while pending / not indexed, and raises `RouteDeferred` (with
    the wait) when rate limited or when Iris fails; never raises for a plain "not yet"."""

    def __init__(self, client: IrisClient) -> None:
        self.client = client
        self._done: dict[tuple[int, bytes, int], Attested] = {}
        self._asked: dict[tuple[int, bytes, int], float] = {}
        self._lock = threading.Lock()
        self.last: IrisResult | None = None

    def fetch(self, handle: RouteHandle) -> Attested | None:
        emitted = CctpMessage.decode(handle.message)
        key = (emitted.source_domain, handle.tx_hash, handle.log_index)
        with self._lock:
            if key in self._done:
                return self._done[key]
            asked = self._asked.get(key)
            now = self.client.clock()
            if asked is not None and now - asked < self.client.config.min_poll_interval_s:
                return None  # Circle: poll a burn at most every few seconds
            self._asked[key] = now
        result = self.client.messages(emitted.source_domain, handle.tx_hash)
        self.last = result
        if result.status is IrisStatus.REJECTED:
            with self._lock:
                self._asked.pop(key, None)
            raise RouteRejected(f"iris: {result.detail}")
        if result.status in (IrisStatus.RATE_LIMITED, IrisStatus.ERROR):
            with self._lock:
                self._asked.pop(key, None)  # the deferral, not the poll interval, decides
            raise RouteDeferred(f"iris: {result.detail}", result.retry_after_s)
        if result.status is not IrisStatus.COMPLETE:
            self._delayed(handle, result)
            return None
        for m in result.messages:
            if m.complete and m.message is not None and same_burn(handle.message, m.message):
                assert m.attestation is not None
                attested = Attested(m.message, m.attestation)
                with self._lock:
                    self._done[key] = attested
                return attested
        self._delayed(handle, result)
        return None  # this transaction's other messages are attested, ours not yet

    def _delayed(self, handle: RouteHandle, result: IrisResult) -> None:
        """Our burn not attested yet: when Iris says why (``delayReason`` on our message, or
        on the transaction's only message while Iris has not filled it in), wait with the
        reason so the bot can alert with it."""
        ours = [
            m
            for m in result.messages
            if m.message is not None and same_burn(handle.message, m.message)
        ]
        if not ours and len(result.messages) == 1:
            ours = list(result.messages)
        reasons = sorted({m.delay_reason for m in ours if m.delay_reason})
        if reasons:
            raise RouteDelayed(",".join(reasons), self.client.config.min_poll_interval_s)
