"""The chaos month's own fund keeper retries its reads on a tenth of the default waits
(ballast_dev/demo/chaos.py, ``shorten_read_retries``): the same tries, each wait a tenth, both
the keeper's (keepers.tx.retry.with_retries, through FundReader.retry_delay_s) and web3's own
(the node client's ``exception_retry_configuration``). The node is a proxy answering 503, as
in the month's outage; the waits are recorded, not slept."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from ballast_dev.demo.chaos import READ_RETRY_SCALE, shorten_read_retries
from ballast_dev.local.rpc_proxy import RpcProxy
from keepers.fund.reader import FundReader
from keepers.tx.node import connect_web3
from keepers.tx.retry import NetworkUnavailable


@pytest.fixture
def down() -> Iterator[RpcProxy]:
    proxy = RpcProxy("http://127.0.0.1:9")  # nothing behind it: every request answered 503
    proxy.down.set()
    yield proxy
    proxy.close()


def _waits(down: RpcProxy, monkeypatch: pytest.MonkeyPatch, scale: int | None) -> Counter[float]:
    """The waits of one read the node refuses, by length."""
    w3 = connect_web3(down.url, 10.0)
    contracts = SimpleNamespace(w3=w3, addresses=SimpleNamespace(symbols={}))
    bot: Any = SimpleNamespace(w3=w3, reader=FundReader(contracts))  # type: ignore[arg-type]
    if scale is not None:
        shorten_read_retries(bot, scale)
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)
    with pytest.raises(NetworkUnavailable, match="eth_getBlockByNumber: no answer after 3"):
        bot.reader.read()
    monkeypatch.undo()
    return Counter(round(w, 6) for w in waits)


def test_shorten_read_retries__same_tries__each_wait_a_tenth(
    down: RpcProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = _waits(down, monkeypatch, None)
    # 4 tries of the keeper's, each web3's 5 (4 waits between them), 3 waits between the 4
    assert default == Counter({0.125: 4, 0.25: 4, 0.5: 5, 1.0: 5, 2.0: 1}), default
    short = _waits(down, monkeypatch, READ_RETRY_SCALE)
    assert sum(short.values()) == sum(default.values())
    assert short == Counter({round(w / READ_RETRY_SCALE, 6): n for w, n in default.items()})
    assert sum(w * n for w, n in short.items()) < 1.2  # 11 s of waits at the defaults
    # the class's default is untouched: another reader waits as before
    assert FundReader.retry_delay_s == 0.5
