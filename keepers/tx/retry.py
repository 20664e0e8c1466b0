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


# HTTP statuses that mean "the node is not serving now" (a load balancer's 502/503/504 in front
# of a node being restarted, a provider's 429 rate limit), not "the request is wrong"
UNAVAILABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


def is_network_error(err: BaseException) -> bool:
    """A dropped connection, a timeout, or an HTTP answer that says the node is unavailable."""
    if isinstance(err, NETWORK_ERRORS):
        return True
    if isinstance(err, requests.exceptions.HTTPError):
        response = err.response
        return response is not None and response.status_code in UNAVAILABLE_STATUSES
    return False


class NetworkUnavailable(ChainError, RuntimeError):
    """The node did not answer after every retry."""


# what with_retries catches (then is_network_error decides): an HTTP error may be a 503
_RETRIED: tuple[type[BaseException], ...] = (*NETWORK_ERRORS, requests.exceptions.HTTPError)


RETRY_DELAY_S = 0.5  # with_retries' first wait (then 1 s and 2 s)


def with_retries(
    fn: Callable[[], T], what: str, attempts: int = 3, delay_s: float = RETRY_DELAY_S
) -> T:
    """Call ``fn``; on a network error (``is_network_error``: an HTTP 503 from a load balancer
    too) try again, ``attempts`` retries in all (then raise NetworkUnavailable naming ``what``).
    Any other error is raised at once."""
    last: BaseException | None = None
    for i in range(attempts + 1):
        try:
            return fn()
        except _RETRIED as err:
            if not is_network_error(err):
                raise
            last = err
            if i < attempts:
                time.sleep(delay_s * 2**i)
    raise NetworkUnavailable(f"{what}: no answer after {attempts} retries: {last}") from last
