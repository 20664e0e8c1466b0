"""Network retries (seed 001 section 7.1: a network timeout is retried 3 times, then alerted)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import requests

from keepers.core.errors import ChainError

T = TypeVar("T")

NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    TimeoutError,
    ConnectionError,
)


class NetworkUnavailable(ChainError, RuntimeError):
    """The node did not answer after every retry."""


def with_retries(fn: Callable[[], T], what: str, attempts: int = 3, delay_s: float = 0.5) -> T:
    """Call ``fn``; on a network error try again, ``attempts`` retries in all (then raise
    NetworkUnavailable naming ``what``)."""
    last: BaseException | None = None
    for i in range(attempts + 1):
        try:
            return fn()
        except NETWORK_ERRORS as err:
            last = err
            if i < attempts:
                time.sleep(delay_s * 2**i)
    raise NetworkUnavailable(f"{what}: no answer after {attempts} retries: {last}") from last
