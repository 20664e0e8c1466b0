"""keepers/tx/retry.py: which failures are "the node is unavailable" (retried, then the
`network` alert) and which are raised at once. Found by the operator's end-to-end test: a load
balancer answering HTTP 503 in front of a restarting node made the fund tick fail with a logged
error instead of the network alert."""

from __future__ import annotations

import pytest
import requests

from keepers.tx.retry import NetworkUnavailable, is_network_error, with_retries


def http_error(status: int) -> requests.exceptions.HTTPError:
    response = requests.Response()
    response.status_code = status
    return requests.exceptions.HTTPError(f"{status} error", response=response)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_http_unavailable__retried_then_network_unavailable(status):
    calls = []

    def fn():
        calls.append(1)
        raise http_error(status)

    with pytest.raises(NetworkUnavailable, match=f"eth_call: no answer after 3 retries: {status}"):
        with_retries(fn, "eth_call", attempts=3, delay_s=0)
    assert len(calls) == 4


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_http_client_error__raised_at_once(status):
    calls = []

    def fn():
        calls.append(1)
        raise http_error(status)

    with pytest.raises(requests.exceptions.HTTPError):
        with_retries(fn, "eth_call", attempts=3, delay_s=0)
    assert len(calls) == 1


def test_recovers_after_a_503():
    answers = iter([http_error(503), requests.exceptions.ConnectionError("refused"), 7])

    def fn():
        a = next(answers)
        if isinstance(a, BaseException):
            raise a
        return a

    assert with_retries(fn, "eth_blockNumber", attempts=3, delay_s=0) == 7


def test_classification():
    assert is_network_error(requests.exceptions.Timeout())
    assert is_network_error(http_error(503))
    assert not is_network_error(http_error(404))
    assert not is_network_error(requests.exceptions.HTTPError("no response"))
    assert not is_network_error(ValueError("execution reverted"))
