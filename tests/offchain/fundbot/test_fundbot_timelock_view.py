"""Issue 67, "queued changes that expire", as holders see them on the deployed local fund:
`keeper status` (text and --json), the console's fund page and the metrics list each queued
timelock operation with what it calls, when it becomes executable and when it expires; a
cancelled (by the guardian) or executed one disappears, an expired one says so."""

from __future__ import annotations

import json
import re
from typing import Any

from prometheus_client import REGISTRY

from keepers.runtime import metrics
from tests.support.consolelib import Client, running_console
from tests.support.fundbotlib import keeper_cli as keeper

ZERO32 = b"\x00" * 32
WINDOW = 14 * 86_400
NOW = 1_800_000_000


def _queued(env: dict[str, str]) -> list[dict[str, Any]]:
    r = keeper(env, "--json", "status")
    assert r.exit_code == 0, r.output
    return json.loads(r.output)["timelock"]["queued"]


def test_status__queued_changes_with_ready_and_expiry_times(env, fresh, accounts, chain):
    admin, guardian = accounts[1], accounts[3]
    t, v = fresh.timelock, fresh.vault
    assert _queued(env) == []  # the deploy's own operations ran (the local delay is 0)
    assert "timelock: nothing queued" in keeper(env, "status").output

    fees = v.setFees.encode_input(100, 1_000)
    tx = t.schedule(v, 0, fees, ZERO32, b"\x01" * 32, 3_600, sender=admin)
    ready = tx.timestamp + 3_600
    op = "0x" + bytes(t.hashOperation(v, 0, fees, ZERO32, b"\x01" * 32)).hex()
    limits = fresh.controller.setMoveLimits.encode_input((10**27, 10**27, 86_400, 100))
    tx2 = t.schedule(fresh.controller, 0, limits, ZERO32, b"\x02" * 32, 7_200, sender=admin)
    op2 = "0x" + bytes(t.hashOperation(fresh.controller, 0, limits, ZERO32, b"\x02" * 32)).hex()

    (a, b) = _queued(env)
    assert (a["id"], a["calls"], a["state"]) == (op, ["vault.setFees"], "waiting")
    assert (a["ready_at"], a["expires_at"]) == (ready, ready + WINDOW)
    assert (b["id"], b["calls"], b["state"]) == (op2, ["controller.setMoveLimits"], "waiting")
    assert b["ready_at"] == tx2.timestamp + 7_200
    text = keeper(env, "status").output
    assert "timelock: 2 queued" in text and "vault.setFees  WAITING" in text

    # the guardian vetoes the fee change: gone from every view
    t.cancel(op, sender=guardian)
    chain.mine(timestamp=tx2.timestamp + 7_200)
    (only,) = _queued(env)
    assert (only["id"], only["state"]) == (op2, "ready")

    with running_console(env, now=NOW) as c:
        status, _, page = Client(c.url).get("/fund")
    assert status == 200, page[-2000:]
    table = re.search(r'<table id="timelock">(.*?)</table>', page, re.S)
    assert table and "controller.setMoveLimits" in table.group(1) and "ready" in table.group(1)
    assert "vault.setFees" not in table.group(1)

    chain.mine(timestamp=tx2.timestamp + 7_200 + WINDOW + 1)
    (gone,) = _queued(env)
    assert gone["state"] == "expired"
    assert (
        "EXPIRED" in keeper(env, "status").output
        and "queue it again" in keeper(env, "status").output
    )


def test_metrics__only_open_unexpired_operations(make_bot, fresh, accounts, chain):
    admin = accounts[1]
    t, v = fresh.timelock, fresh.vault
    bot = make_bot()
    data = v.setFeeRecipient.encode_input(accounts[9])
    tx = t.schedule(v, 0, data, ZERO32, b"\x03" * 32, 600, sender=admin)
    bot.read()
    label = "0x" + bytes(t.hashOperation(v, 0, data, ZERO32, b"\x03" * 32)).hex()[:16]
    ready = REGISTRY.get_sample_value(
        "rebalance_timelock_operation_ready_timestamp_seconds",
        {"operation": label, "calls": "vault.setFeeRecipient"},
    )
    expires = REGISTRY.get_sample_value(
        "rebalance_timelock_operation_expires_timestamp_seconds",
        {"operation": label, "calls": "vault.setFeeRecipient"},
    )
    assert (ready, expires) == (tx.timestamp + 600, tx.timestamp + 600 + WINDOW)
    chain.pending_timestamp = tx.timestamp + 600
    t.execute(v, 0, data, ZERO32, b"\x03" * 32, sender=admin)  # done: off the gauges
    bot.read()
    assert not list(metrics.TIMELOCK_READY.collect())[0].samples


def test_views__timelock_and_fees_paid__incremental_per_bot_same_as_one_scan(
    make_bot, fresh, accounts, chain, monkeypatch
):
    """The console's page views of one keeper (``timelock_view``, ``fees_paid_view`` on the
    same bot) scan the lookback once, then only the blocks after the last view's; each view
    shows what one scan of its own at that block shows. A view at an older block scans on
    its own and leaves the watch as it was."""
    from keepers.fund import fees_paid, timelock
    from keepers.fund.fees_paid import fees_paid_view
    from keepers.fund.timelock import TimelockWatch, timelock_view

    admin = accounts[1]
    t, v = fresh.timelock, fresh.vault
    bot = make_bot()
    scans: list[tuple[str, int, int]] = []
    real_logs = timelock.get_logs

    def counted(event: Any, lo: int, hi: int) -> Any:
        scans.append((event.event_name, lo, hi))
        return real_logs(event, lo, hi)

    monkeypatch.setattr(timelock, "get_logs", counted)
    monkeypatch.setattr(fees_paid, "get_logs", counted)

    def views(who: Any) -> tuple[Any, Any]:
        r = who.reader.read()
        return timelock_view(who, r.block, r.state.timestamp), fees_paid_view(who, r)

    def one_scan(block: int, now: int) -> Any:
        lookback = int(bot.k.timelock_lookback_blocks)
        ops = TimelockWatch(bot.contracts.timelock, bot.addresses, lookback).open_at(block, now)
        return {"queued": [o.to_doc() for o in ops]}

    first = views(bot)
    assert [s[1] for s in scans] == [0, 0]  # both from the lookback's start (block 0 here)
    for salt in (b"\x04", b"\x05"):
        t.schedule(v, 0, v.setFees.encode_input(100, 1_000), ZERO32, salt * 32, 3_600,
                   sender=admin)  # fmt: skip
        before = scans[-1][2]
        scans.clear()
        r = bot.reader.read()
        got = (timelock_view(bot, r.block, r.state.timestamp), fees_paid_view(bot, r))
        assert scans and all(lo == before + 1 and hi == r.block for _e, lo, hi in scans), scans
        scans.clear()
        assert got[0] == one_scan(r.block, r.state.timestamp)
        pr = make_bot().reader.read()  # a fresh bot: one scan of its own
        assert pr.block == r.block and got[1] == fees_paid_view(make_bot(), pr)
    assert len(got[0]["queued"]) == 2 and first[0] == {"queued": []}
    # a view at an older block: its own scan, the watch kept where it was
    scans.clear()
    old = timelock_view(bot, r.block - 1, r.state.timestamp)
    assert old == one_scan(r.block - 1, r.state.timestamp) and len(old["queued"]) == 1
    assert scans and scans[0][1] == 0
    scans.clear()
    assert timelock_view(bot, r.block, r.state.timestamp) == got[0] and scans == []
