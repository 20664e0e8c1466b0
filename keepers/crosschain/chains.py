"""Chains isolated from each other: a deadline on every call, a budget per chain and tick, and
each chain's health as the keeper last saw it.

- Every web3 client of the cross-chain keeper (`connect`) has the chain's ``rpc_timeout_s`` as
  its HTTP deadline and no transport retries (web3's default retries a timed-out read five
  times: a node that accepts and never answers held a call for minutes).
- `ChainHealth.run` runs one function per chain in threads of their own and waits at most
  ``chain_budget_s``: a chain whose function raised or has not returned by then is marked
  *down* (with the reason and since when) and left out of the tick; the others go on. A thread
  still waiting on a hung node is a daemon and ends by itself at its HTTP deadline.
- A chain is *halted* when another process sent with the keeper's key there (SignerConflict):
  nothing more is sent on it until the keeper is restarted (the operator stops the other user
  of the key first), and *refused* when its route contracts did not match at its first check.

`ChainHealth.why_not(name)` says why a chain cannot be used now (None: it can); the moves
that need it wait with that reason, and `snapshot()` is what ``keeper crosschain status``,
``/readyz`` and the ``crosschain_chain_*`` metrics show.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from web3 import Web3

from keepers.core.logging import get_logger

log = get_logger("keepers.crosschain.chains")

UP, DOWN, HALTED, REFUSED, UNKNOWN = "up", "down", "halted", "refused", "unknown"


def connect(url: str, timeout_s: float) -> Web3:
    """A web3 client on ``url`` whose every call ends within ``timeout_s`` (no retries)."""
    from keepers.tx.node import connect_web3

    w3 = connect_web3(url, timeout_s)
    no_retries(w3)
    return w3


def no_retries(w3: Any) -> None:
    """Turn web3's transport retries off on ``w3``'s provider (a hung node: one deadline)."""
    provider = getattr(w3, "provider", None)
    if provider is not None and hasattr(provider, "exception_retry_configuration"):
        provider.exception_retry_configuration = None


def describe(err: BaseException, url: str | None = None) -> str:
    """One line for a chain's failure. A transport failure (refused, reset, timed out) names
    the node by its URL without credentials, path or query, and the error's type only (the
    transport's message quotes the path, where a provider's API key often is); any other
    error its type and first line."""
    from keepers.tx.node import shown_url

    if isinstance(err, OSError | TimeoutError) or "Timeout" in type(err).__name__:
        where = f"rpc_url {shown_url(url)}" if url else "node"
        return f"{where} unreachable ({type(err).__name__})"
    text = str(err).split("\n", 1)[0][:200]
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


@dataclass
class ChainState:
    name: str
    status: str = UNKNOWN
    since: float = 0.0  # when the status began (unix seconds)
    last_ok: float | None = None  # the last time the chain answered
    error: str | None = None  # why it is not up
    seconds: float | None = None  # how long the last read took

    def view(self) -> dict[str, Any]:
        return {
            "chain": self.name,
            "status": self.status,
            "since": self.since,
            "last_ok": self.last_ok,
            "error": self.error,
            "seconds": None if self.seconds is None else round(self.seconds, 3),
        }


class ChainHealth:
    """Each configured chain's health (see the module doc). ``clock`` injectable for tests."""

    def __init__(
        self,
        names: Iterable[str],
        budget_s: float,
        clock: Callable[[], float] = time.time,
        on_change: Callable[[ChainState, str], None] | None = None,
        urls: Mapping[str, str] | None = None,
    ) -> None:
        self.budget_s = budget_s
        self.urls = dict(urls or {})  # named (without credentials) in a transport failure
        self.clock = clock
        self.on_change = on_change  # (state, previous status) -> None: alerts, logs
        self._lock = threading.Lock()
        self.states = {n: ChainState(n, since=clock()) for n in names}

    # ------------------------------------------------------------------ running

    def run(
        self,
        work: Mapping[str, Callable[[], Any]],
        budget_s: float | None = None,
    ) -> dict[str, Any]:
        """Run ``work[chain]()`` for every chain at once; wait at most the budget. Returns the
        results of the chains that answered; the others are marked down (and left out)."""
        budget = self.budget_s if budget_s is None else budget_s
        results: dict[str, Any] = {}
        errors: dict[str, BaseException] = {}
        took: dict[str, float] = {}
        threads = []

        def one(name: str, fn: Callable[[], Any]) -> None:
            t0 = time.monotonic()
            try:
                results[name] = fn()
            except BaseException as err:  # noqa: BLE001 - the chain's failure, reported
                errors[name] = err
            took[name] = time.monotonic() - t0

        for name, fn in work.items():
            t = threading.Thread(target=one, args=(name, fn), name=f"chain-{name}", daemon=True)
            t.start()
            threads.append((name, t))
        deadline = time.monotonic() + budget
        for _name, t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        out = {}
        for name, t in threads:
            if t.is_alive():
                from keepers.tx.node import shown_url

                url = self.urls.get(name)
                where = f"rpc_url {shown_url(url)}" if url else "its node"
                self.mark_down(
                    name, f"{where}: no answer within {budget:g}s (chain_budget_s)", budget
                )
            elif name in errors:
                self.mark_down(name, describe(errors[name], self.urls.get(name)), took.get(name))
            else:
                out[name] = results[name]
                self.mark_up(name, took.get(name))
        return out

    # ------------------------------------------------------------------ marks

    def _set(self, name: str, status: str, error: str | None, seconds: float | None) -> None:
        with self._lock:
            st = self.states.setdefault(name, ChainState(name, since=self.clock()))
            if st.status in (HALTED, REFUSED) and status in (UP, DOWN):
                # a halt or a refusal holds until a restart; the node's answers still count
                if status == UP:
                    st.last_ok = self.clock()
                st.seconds = seconds
                return
            previous = st.status
            now = self.clock()
            if status != previous:
                st.since = now
            st.status, st.error, st.seconds = status, error, seconds
            if status == UP:
                st.last_ok = now
            changed = status != previous
            snapshot = ChainState(**vars(st))
        if changed:
            if status == UP:
                log.info("chain.up", chain=name, previous=previous)
            else:
                log.warning(f"chain.{status}", chain=name, error=error, previous=previous)
            if self.on_change is not None:
                self.on_change(snapshot, previous)

    def mark_up(self, name: str, seconds: float | None = None) -> None:
        self._set(name, UP, None, seconds)

    def mark_down(self, name: str, why: str, seconds: float | None = None) -> None:
        self._set(name, DOWN, why, seconds)

    def halt(self, name: str, why: str) -> None:
        self._set(name, HALTED, why, None)

    def refuse(self, name: str, why: str) -> None:
        self._set(name, REFUSED, why, None)

    # ------------------------------------------------------------------ readings

    def status(self, name: str) -> str:
        return self.states[name].status if name in self.states else UNKNOWN

    def why_not(self, name: str) -> str | None:
        """Why ``name`` cannot be used now, None when it is up."""
        st = self.states.get(name)
        if st is None or st.status == UP:
            return None
        if st.status == UNKNOWN:
            return f"chain {name} not read yet"
        return f"chain {name} {st.status}: {st.error}"

    def up(self) -> list[str]:
        return [n for n, st in self.states.items() if st.status == UP]

    def not_up(self) -> dict[str, str]:
        return {n: f"{st.status}: {st.error}" for n, st in self.states.items() if st.status != UP}

    def halted(self) -> dict[str, str]:
        return {n: str(st.error) for n, st in self.states.items() if st.status == HALTED}

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [st.view() for st in self.states.values()]
