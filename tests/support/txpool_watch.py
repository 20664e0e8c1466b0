"""A searcher's view of the public pool, for the private-submission tests: `TxpoolWatch` reads a
node's ``txpool_content`` every 50 ms on a thread of its own while the test runs, and says
which transactions the pool listed and when."""

from __future__ import annotations

import threading
import time
from typing import Any

import requests

_BODY = {"jsonrpc": "2.0", "id": 1, "method": "txpool_content", "params": []}


class TxpoolWatch:
    """Polls ``url``'s ``txpool_content`` every ``every_s`` from `start` to `stop`: ``seen``,
    every hash the pool listed (lower case); ``sightings``, each (when the node's answer to
    the poll arrived, on the monotonic clock; a hash it listed); ``polls``, the polls answered; ``errors``, the error
    that ended the polling (a test asserts there is none). A context manager: started on
    entry, stopped on exit."""

    def __init__(self, url: str, every_s: float = 0.05) -> None:
        self.url = url
        self.every_s = every_s
        self.seen: set[str] = set()
        self.sightings: list[tuple[float, str]] = []
        self.polls = 0
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        http = requests.Session()
        while not self._stop.is_set():
            try:
                content = http.post(self.url, json=_BODY, timeout=10).json()["result"]
            except Exception as err:  # noqa: BLE001 - reported by the test (errors)
                self.errors.append(err)
                return
            answered = time.monotonic()  # the pool's contents are from before this moment
            self.polls += 1
            listed = {
                tx["hash"].lower()
                for part in ("pending", "queued")
                for by_nonce in (content.get(part) or {}).values()
                for tx in by_nonce.values()
            }
            self.seen.update(listed)
            self.sightings.extend((answered, h) for h in listed)
            self._stop.wait(self.every_s)

    def start(self) -> TxpoolWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def __enter__(self) -> TxpoolWatch:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def leaks(self, held_until: dict[str, float | None]) -> list[tuple[float, str]]:
        """The sightings of a held transaction (``held_until``: its hash -> when the relay
        handed it to the node, None while it holds it) by a poll answered before the
        hand-over: the public pool showed it while the relay held it. After the hand-over the
        node mines it on arrival, in a block of its own, so a later sighting is no leak.

        The answer's time, not the poll's start: a poll sent before the hand-over and answered
        after it can list the trade the node is mining (seen once on three xdist workers on two
        cores, one sighting of one of three trades). A real leak holds the trade in the pool
        for the whole hold, which the tests watch for at least six polls."""
        return [
            (t, h) for t, h in self.sightings if h in held_until and (held_until[h] or 1e18) > t
        ]
