"""Issue 67, "fees as paid", on the deployed local fund with fees on: `keeper status` (text and
--json), the console's fund page, the metrics and plan reports (`keeper plan --dry-run`, and
`keeper review` of a stored plan) show what the fee recipient has been paid to date (the
FeesAccrued events summed: shares, and base units when minted) and what it holds now (its
share balance), beside the rates, the high-water mark, the fees pending and the in-kind exit.
Before, both said only "pending now": a recipient holding fee shares read as paid nothing."""

from __future__ import annotations

import json
import re
from typing import Any

from prometheus_client import REGISTRY

from tests.support.consolelib import Client, running_console
from tests.support.fundbotlib import keeper_cli as keeper
from tests.support.fundbotlib import via_timelock

NOW = 1_800_000_000


def _minted(vault: Any) -> tuple[int, int]:
    """(shares, base units when minted) of every FeesAccrued so far, read with ape."""
    logs = list(vault.FeesAccrued.range(0, vault.chain_manager.blocks.height + 1))
    return (
        sum(int(lg.shares) for lg in logs),
        sum(int(lg.managementFee) + int(lg.performanceFee) for lg in logs),
    )


def test_fees_paid__status_console_metrics_and_plan_reports(env, fresh, accounts, chain, make_bot):
    admin, recipient, other = accounts[1], accounts[9], accounts[8]
    v, cash = fresh.vault, fresh.cash
    via_timelock(fresh, v.setFeeRecipient.encode_input(recipient), admin, 1)
    via_timelock(fresh, v.setFees.encode_input(200, 2_000), admin, 2)
    unit = 10 ** int(cash.decimals())
    cash.mint(admin, 1_000 * unit, sender=accounts[0])
    cash.approve(v, 2**256 - 1, sender=admin)
    for _ in range(2):  # two entries a month apart: each accrues the management fee
        chain.mine(timestamp=chain.pending_timestamp + 30 * 86_400)
        for feed in fresh.feeds.values():  # fresh answers after the month
            feed.updateAnswer(feed.latestAnswer(), sender=accounts[0])
        v.deposit(100 * unit, admin, sender=admin)
    shares, at_mint = _minted(v)
    assert shares > 0 and at_mint > 0
    held = int(v.balanceOf(recipient))
    assert held == shares  # nothing redeemed yet
    v.transfer(other, held // 2, sender=recipient)  # the recipient moves half: held < minted

    out = json.loads(keeper(env, "--json", "status").output)
    paid = out["fees_paid"]
    assert paid["recipient"] == recipient.address
    assert int(paid["minted_shares"]) == shares and paid["accruals"] == 2
    assert int(paid["minted_management"]) + int(paid["minted_performance"]) == at_mint
    assert int(paid["held_shares"]) == held - held // 2
    assert 0 < int(paid["held_value"]) < int(paid["minted_value_now"])
    assert paid["whole_history"] is True
    text = keeper(env, "status").output
    assert f"fees paid to date since the deployment: {shares} fee shares in 2 accruals" in text
    assert f"fee shares held by the recipient now: {held - held // 2} shares" in text

    with running_console(env, now=NOW) as c:
        status, _, page = Client(c.url).get("/fund")
    assert status == 200, page[-2000:]
    table = re.search(r'<table id="fees-paid">(.*?)</table>', page, re.S)
    assert table and f"{shares:,}" in table.group(1) and f"{held - held // 2:,}" in table.group(1)

    bot = make_bot()
    bot.read()
    assert REGISTRY.get_sample_value("rebalance_fee_shares_minted") == shares
    assert REGISTRY.get_sample_value("rebalance_fee_shares_held") == held - held // 2
    assert REGISTRY.get_sample_value("rebalance_fees_minted_value") == at_mint

    # a plan report carries the fees, what was paid and the in-kind exit (dry run: printed)
    r = keeper(env, "--json", "plan", "--dry-run")
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)["report"]
    assert report["holders"]["fees"]["management_bps"] == 200
    assert int(report["holders"]["fees_paid"]["minted_shares"]) == shares
    assert report["holders"]["in_kind"] is not None
    text = keeper(env, "plan", "--dry-run").output
    assert "fees: management 2.00%/yr, performance 20.00%" in text
    assert "in-kind exit of 1% of the supply" in text
    assert "fees paid to date since the deployment" in text
