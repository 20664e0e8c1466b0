"""What holders and managers see (issue 54) on the deployed local fund: with fees turned on
through the timelock, `keeper status` (text and --json) and the console's fund page show the
rates, the recipient, fees pending now, the high-water mark against the price per share, and
what an in-kind exit of 1% of the supply pays now (cash and each token, as the vault's
previewRedeemInKind says); a held valuation step shows on both, with both prices and the step."""

from __future__ import annotations

import json
import re

from tests.support.consolelib import Client, running_console
from tests.support.fundbotlib import keeper_cli as keeper
from tests.support.fundbotlib import via_timelock

NOW = 1_800_000_000


def test_status_and_console__fees_in_kind_exit_and_a_held_step(env, fresh, accounts, chain):
    admin, guardian, recipient = accounts[1], accounts[3], accounts[9]
    v = fresh.vault
    via_timelock(fresh, v.setFeeRecipient.encode_input(recipient), admin, 1)
    via_timelock(fresh, v.setFees.encode_input(100, 1_000), admin, 2)
    chain.mine(timestamp=chain.pending_timestamp + 6 * 3_600)  # management fee (feeds fresh)

    r = keeper(env, "--json", "status")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    fees = out["fees"]
    assert (fees["management_bps"], fees["performance_bps"]) == (100, 1_000)
    assert fees["recipient"] == recipient.address
    pending = int(v.pendingFeeShares())
    assert int(fees["pending_shares"]) == pending > 0
    assert int(fees["pending_value"]) > 0 and int(fees["high_water_mark"]) > 0
    assert out["valuation_holds"] == []
    k = out["in_kind"]
    shares = int(k["shares"])
    assert shares == int(v.totalSupply()) // 100
    cash, tokens, amounts = v.previewRedeemInKind(shares)
    assert int(k["cash"]) == cash > 0
    assert [(t["token"], int(t["amount"])) for t in k["tokens"]] == list(
        zip([str(t) for t in tokens], amounts, strict=True)
    )
    assert any(int(t["amount"]) > 0 for t in k["tokens"])

    sym = "TBILL-A"
    token = fresh.assets[sym].address
    fresh.controller.setPriceStepBound(token, 500, 0, sender=guardian)
    feed = fresh.feeds[sym]
    feed.updateAnswer(feed.latestAnswer() * 115 // 100, sender=accounts[0])  # +15%
    (hold,) = json.loads(keeper(env, "--json", "status").output)["valuation_holds"]
    assert (hold["symbol"], hold["move_bps"], hold["allowed_bps"]) == (sym, 1_500, 500)
    assert (hold["reference_human"], hold["answer_human"]) == ("100", "115")
    text = keeper(env, "status").output
    assert "fees: management 1.00%/yr, performance 10.00%" in text
    assert "high-water mark" in text and "price per share now" in text
    assert f"valuation HELD: {sym} reference 100 answer 115 move +1500 bps allowed 500" in text
    assert "in-kind exit of 1% of the supply" in text

    with running_console(env, now=NOW) as c:
        status, _, page = Client(c.url).get("/fund")
    assert status == 200, page[-2000:]
    fees_table = re.search(r'<table id="fees">(.*?)</table>', page, re.S)
    assert fees_table and "1.00% a year" in fees_table.group(1)
    assert recipient.address in fees_table.group(1)
    held = re.search(r'<table id="valuation-holds">(.*?)</table>', page, re.S)
    assert held and sym in held.group(1) and "+1500 bps" in held.group(1)
    in_kind = re.search(r'<table id="in-kind">(.*?)</table>', page, re.S)
    assert in_kind and str(shares) in in_kind.group(1)
    alerts = re.search(r'<table id="alerts">(.*?)</table>', page, re.S)
    assert alerts and "nav_jump" in alerts.group(1)
