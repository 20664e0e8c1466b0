"""Private submission: the relays a pool trade is sent through instead of the public pool.

A pending transaction in the node's public pool is read by every searcher, who orders a
front-run and a back-run around it (issue 62 measured 89-140 bps of a keeper swap's volume
taken that way). A private relay (Flashbots Protect, MEV Blocker) takes the same signed
transaction with ``eth_sendRawTransaction`` on its own RPC, keeps it out of the public pool
and hands it to block builders; its status API tells what became of it:

    GET <status url><hash>  ->  {"status": "PENDING" | "INCLUDED" | "FAILED" | "CANCELLED"
                                  | "UNKNOWN", "hash": ..., "maxBlockNumber": ..., ...}

(Flashbots Protect: https://docs.flashbots.net/flashbots-protect/rpc/status-api; a
transaction not included within 25 blocks ends FAILED; MEV Blocker answers the same
``status`` strings at ``https://rpc.mevblocker.io/tx/<hash>``.) A FAILED or CANCELLED
transaction was not sent as far as the chain is concerned: the pipeline signs its nonce
again (keepers.tx.pipeline, Watch), after checking on the chain that the nonce is still
unused and that none of the intent's hashes was included.

What is sent privately (:func:`is_private`): the controller's pool trades (purchaseAsset,
redeemAsset) by selector, whatever submits them; an intent whose submitter marked it
(``fee_policy["private"]``: the fund keeper marks every action that carries a pool leg,
a PlanExecutor execution included); and what the operator lists (KEEPER_PRIVATE_SELECTORS,
KEEPER_PRIVATE_ROLES).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import requests
from eth_utils import keccak

from keepers.core.settings import KeeperSettings
from keepers.tx.errors import NodeError, classify
from keepers.tx.node import shown_url


def selector(signature: str) -> str:
    return "0x" + keccak(text=signature)[:4].hex()


# the controller's calls that trade on a pool (keepers.fund.actions)
POOL_SELECTORS = frozenset(
    {
        selector("purchaseAsset(address,uint256,uint256)"),
        selector("redeemAsset(address,uint256,uint256)"),
    }
)

ROUTE_PUBLIC = "public"
ROUTE_PRIVATE = "private"


class RelayState(StrEnum):
    """The status API's ``status`` strings (Flashbots Protect's, MEV Blocker's)."""

    PENDING = "PENDING"  # received, being offered to builders
    INCLUDED = "INCLUDED"  # included on chain
    FAILED = "FAILED"  # not included within the relay's window (25 blocks): dropped
    CANCELLED = "CANCELLED"  # cancelled by its sender: dropped
    UNKNOWN = "UNKNOWN"  # the relay never received it (or no longer knows it)


DROPPED = frozenset({RelayState.FAILED, RelayState.CANCELLED})


class RelayUnreachable(NodeError):
    """No private endpoint answered (a network error, an HTTP error status, a body that is
    not JSON-RPC)."""


def is_private(
    settings: KeeperSettings, role: str, calldata: str, fee_policy: dict[str, Any] | None
) -> bool:
    """Whether this intent's transactions go through the private relays."""
    if fee_policy and fee_policy.get("private"):
        return True
    sel = (calldata or "")[:10].lower()
    return (
        sel in POOL_SELECTORS or sel in settings.private_selectors or role in settings.private_roles
    )


@dataclass(frozen=True)
class Sent:
    """What the endpoints answered one ``eth_sendRawTransaction``: the URLs (shown) that took
    it and the errors of the others (typed: a relay's "nonce too low" is the node's)."""

    accepted: tuple[str, ...]
    errors: tuple[tuple[str, NodeError], ...]

    def refusal(self) -> NodeError | None:
        """The typed refusal when no endpoint took it (a relay's answer before a network
        failure: it says something about the transaction)."""
        if self.accepted:
            return None
        answered = [e for _, e in self.errors if not isinstance(e, RelayUnreachable)]
        if answered:
            return answered[0]
        detail = "; ".join(f"{u}: {e}" for u, e in self.errors) or "no endpoint"
        return RelayUnreachable(f"private relay unreachable ({detail})")


class Relay:
    """The configured private endpoints and their status APIs."""

    def __init__(
        self, rpc_urls: Iterable[str], status_urls: Iterable[str] = (), timeout_s: float = 5.0
    ) -> None:
        self.rpc_urls = list(rpc_urls)
        given = list(status_urls)
        self.status_urls = given or [u.rstrip("/") + "/tx/" for u in self.rpc_urls]
        self.timeout_s = timeout_s
        self._http = requests.Session()
        self._id = 0

    @classmethod
    def from_settings(cls, settings: KeeperSettings) -> Relay | None:
        if not settings.private_rpc_urls:
            return None
        return cls(
            settings.private_rpc_urls, settings.private_status_urls, settings.private_timeout_s
        )

    @property
    def shown(self) -> list[str]:
        """The endpoints as logs and `keeper status` show them (no path, key or query)."""
        return [shown_url(u) for u in self.rpc_urls]

    def send(self, raw: str) -> Sent:
        """``eth_sendRawTransaction`` to every endpoint (the same signed bytes: at most one
        of them can be included, they share a nonce)."""
        accepted: list[str] = []
        errors: list[tuple[str, NodeError]] = []
        for url in self.rpc_urls:
            self._id += 1
            body = {"jsonrpc": "2.0", "id": self._id, "method": "eth_sendRawTransaction",
                    "params": [raw]}  # fmt: skip
            try:
                resp = self._http.post(url, json=body, timeout=self.timeout_s)
                answer = resp.json()
            except (requests.RequestException, ValueError) as err:
                errors.append((shown_url(url), RelayUnreachable(f"{type(err).__name__}")))
                continue
            if not isinstance(answer, dict):
                errors.append((shown_url(url), RelayUnreachable("not a JSON-RPC answer")))
            elif answer.get("error"):
                errors.append((shown_url(url), classify(dict(answer["error"]))))
            elif resp.status_code >= 400 or "result" not in answer:
                errors.append((shown_url(url), RelayUnreachable(f"HTTP {resp.status_code}")))
            else:
                accepted.append(shown_url(url))
        return Sent(tuple(accepted), tuple(errors))

    def status(self, tx_hash: str) -> RelayState:
        """The transaction's state across the endpoints: INCLUDED or PENDING if any says so,
        else FAILED / CANCELLED if any dropped it, else UNKNOWN. Raises RelayUnreachable
        when no status API answered (nothing is decided on no answer)."""
        seen: list[RelayState] = []
        for url in self.status_urls:
            try:
                resp = self._http.get(url + tx_hash, timeout=self.timeout_s)
                resp.raise_for_status()
                doc = resp.json()
                seen.append(RelayState(str(doc.get("status", "UNKNOWN")).upper()))
            except (requests.RequestException, ValueError, AttributeError):
                continue
        if not seen:
            raise RelayUnreachable(f"private relay status API unreachable for {tx_hash}")
        for state in (RelayState.INCLUDED, RelayState.PENDING, RelayState.FAILED,
                      RelayState.CANCELLED):  # fmt: skip
            if state in seen:
                return state
        return RelayState.UNKNOWN


class PrivateSubmissionRefused(NodeError):
    """A transaction that must go to a private relay, with none configured and the public
    pool not allowed (KEEPER_PUBLIC_MEMPOOL_FALLBACK): it waits, retried with backoff."""


def private_view(
    store: Any, settings: KeeperSettings, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Private submission as `keeper status` shows it: the endpoints (shown without keys),
    whether the public pool may take a pool trade, the transactions pending at a relay now
    (sent, not yet mined) and the relay's drops of the last 24 hours (each re-signed at its
    nonce), read from the store."""
    from sqlalchemy import select

    from keepers.store.models import StepLog, TxAttempt, TxIntent, utcnow

    now = now or utcnow()
    with store.sessions() as s:
        pending = s.execute(
            select(TxIntent.id, TxIntent.idempotency_key, TxIntent.nonce, TxAttempt.tx_hash,
                   TxAttempt.sent_at_block, TxAttempt.created_at)
            .join(TxAttempt, TxAttempt.id == TxIntent.current_attempt_id)
            .where(TxIntent.status == "broadcast", TxAttempt.route == ROUTE_PRIVATE)
            .order_by(TxIntent.id)
        ).all()  # fmt: skip
        drops = s.execute(
            select(StepLog.intent_id, StepLog.at, StepLog.detail)
            .where(StepLog.outcome == "relay-dropped", StepLog.at >= now - dt.timedelta(days=1))
            .order_by(StepLog.id)
        ).all()
    return {
        "relays": [shown_url(u) for u in settings.private_rpc_urls],
        "public_fallback": settings.public_mempool_fallback,
        "pending": [
            {
                "intent": i,
                "key": k,
                "nonce": n,
                "tx_hash": h,
                "sent_at_block": b,
                "age_s": int((now - _aware(c)).total_seconds()),
            }
            for i, k, n, h, b, c in pending
        ],  # fmt: skip
        "drops_24h": len(drops),
        "last_drop": None
        if not drops
        else {
            "intent": drops[-1][0],
            "at": _aware(drops[-1][1]).isoformat(timespec="seconds"),
            "relay_status": (drops[-1][2] or {}).get("relay_status"),
            "blocks": (drops[-1][2] or {}).get("blocks"),
        },
    }


def _aware(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)


def private_lines(d: dict[str, Any]) -> list[str]:
    relays = ", ".join(d["relays"]) or "none configured (KEEPER_PRIVATE_RPC_URLS)"
    fallback = {None: "local chains only", True: "allowed", False: "refused"}[d["public_fallback"]]
    lines = [
        f"private submission: relays {relays}  public pool fallback {fallback}",
        f"  pending at relay {len(d['pending'])}  drops (24h) {d['drops_24h']}",
    ]
    for p in d["pending"]:
        lines.append(
            f"  intent {p['intent']} nonce {p['nonce']} {p['tx_hash']} sent at block "
            f"{p['sent_at_block']} ({p['age_s']}s ago)"
        )
    last = d["last_drop"]
    if last is not None:
        lines.append(
            f"  last drop: intent {last['intent']} at {last['at']} ({last['relay_status']} "
            f"after {last['blocks']} blocks): re-signed at its nonce"
        )
    return lines
