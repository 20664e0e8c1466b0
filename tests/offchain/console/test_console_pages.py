"""The console's pages without a chain (an approver's machine with the store only) and its
actions in words: the fund page says the chain is unavailable and still lists the alert causes
the store knows (a plan waiting, linked to its page and to the runbook), a manual rebalance
without a chain is refused and stores nothing, and each controller call reads as what it
does."""

from __future__ import annotations

import os
import re
from pathlib import Path
from unittest import mock

from eth_utils import to_checksum_address

from keepers.console.views import action_words
from keepers.fund.planning.actions import Action, ActionType
from tests.offchain.console.test_console_security import NOW, REF, env  # noqa: F401
from tests.support.consolelib import Client, running_console

TOKEN_ADDR = "0x" + "ab" * 20
SHOWN = to_checksum_address(TOKEN_ADDR)  # every address on a page in its EIP-55 form


def test_fund_page_without_a_chain__alerts_from_the_store__rebalance_refused(env):  # noqa: F811
    e, plans = env
    before = len(plans.history(100))
    hook = {"KEEPER_CONSOLE_RUNBOOK_URL": "https://docs.example/runbook/"}
    with running_console(e | hook, now=NOW + 4 * 3_600 - 600) as c:
        ops = Client(c.url)
        status, _, page = ops.get("/fund")
        assert status == 200
        assert "chain data unavailable" in page
        alerts = re.search(r'<table id="alerts">(.*?)</table>', page, re.S)
        assert alerts, "no alerts table"
        row = alerts.group(1)
        # near its deadline (10 min left, under KEEPER_CONSOLE_NEAR_DEADLINE_S): critical
        assert "critical" in row and f'href="/plans/{REF}"' in row
        assert 'href="https://docs.example/runbook/#approval_needed"' in row
        assert "no keeper run has started" in page
        status, _, out = ops.post(
            "/rebalance",
            form={"by": "ops", "reason": "test", "csrf": ops.csrf(page)},
            headers={"Accept": "application/json"},
        )
        assert status == 503 and "chain unavailable" in out
        status, _, out = ops.post(
            "/rebalance", form={"by": "", "reason": "", "csrf": ops.csrf(page)}
        )
        assert status == 400 and "needs who asks" in out
        status, _, page = ops.get("/approvals")
        queue = re.search(r'<table id="queue">(.*?)</table>', page, re.S)
        assert status == 200 and queue and f'href="/plans/{REF}"' in queue.group(1)
        assert "0 of 2" in queue.group(1) and "(10 min 0 s left)" in queue.group(1)
        status, _, page = ops.get("/plans")
        assert status == 200 and f'href="/plans/{REF}"' in page and "pending_approval" in page
        assert ops.get("/plans/no-such-plan")[0] == 404
        assert ops.get("/plans/%3Cscript%3E")[0] == 404
        assert ops.get("/nowhere")[0] == 404
    assert len(plans.history(100)) == before


def test_each_call_in_words():
    d = 6
    cases = [
        (Action(ActionType.ALLOCATE, 5 * 10**11, 0, "r", 0, 2), None,
         "move 500,000.00 from L1 to L3 (allocateToLayer)"),
        (Action(ActionType.PURCHASE, 20_550_340_000, 0, "r", 0, 2, asset=TOKEN_ADDR), "TBILL-B",
         f"buy TBILL-B ({SHOWN}) for 20,550.34 of cash into L3 (purchaseAsset on its venue)"),
        (Action(ActionType.REDEEM, 10**9, 0, "r", 1, 0, asset=TOKEN_ADDR, token_amount=999), "MMF",
         f"sell 999 token units of MMF ({SHOWN}) from L2 for about 1,000.00 (redeemAsset on "
         "its venue)"),
        (Action(ActionType.WATERFALL, 10**10, 0, "r", max_tier=2), None,
         "waterfall liquidation of 10,000.00 up to L3"),
        (Action(ActionType.REBALANCE_BUFFER, 10**6, 0, "r"), None, "rebalanceBuffer 1.00"),
    ]  # fmt: skip
    for action, symbol, words in cases:
        assert action_words(action, symbol, d) == words


def test_the_demos_console__address_printed__serves__no_keeper_key(env):  # noqa: F811
    """`make demo`'s console (ballast_dev/demo/console.py): a `keeper console` process on a
    free port with the demo keeper's environment less its key; its address echoed."""
    import urllib.request

    from ballast_dev.demo.console import start_console, stop_console

    e, _ = env
    lines: list[str] = []
    proc = start_console(e, lines.append)
    try:
        assert proc is not None, lines
        (line,) = lines
        assert re.fullmatch(r"web console: http://127\.0\.0\.1:\d+/approvals", line), line
        with urllib.request.urlopen(line.split(": ", 1)[1], timeout=30) as r:
            assert r.status == 200 and REF in r.read().decode()
        environ = Path(f"/proc/{proc.pid}/environ").read_bytes().split(b"\0")
        assert not any(v.startswith(b"KEEPER_SIGNER_KEY=") for v in environ)
    finally:
        stop_console(proc)
    assert proc.returncode == 0


def test_approval_views__one_query_for_the_queue__same_views_as_one_by_one(env):  # noqa: F811
    """The queue's views (the console's /approvals, `keeper review` without a plan) read every
    plan's approvals in one query: the same views, signatures, rejections and order, as
    approval_view of each plan reads them."""
    from ballast_dev.local.keystores import account_key
    from keepers.cli_base import Ctx
    from keepers.fund.planning.plan_approval import sign_plan
    from keepers.fund.service import approval_view, approval_views
    from tests.offchain.console.test_console_security import OWNERS, add_plan, frozen_plan

    e, plans = env
    add_plan(plans, "plan-second")
    add_plan(plans, "plan-third")
    for ref, who in ((REF, "bob"), (REF, "alice"), ("plan-third", "carol")):
        plans.record_signature(ref, sign_plan(frozen_plan(ref), account_key(who)), NOW + 60)
    plans.record_decision("plan-second", OWNERS[2], NOW + 70, approve=False, note="no")
    with mock.patch.dict(os.environ, e):
        ctx = Ctx(False, NOW + 100)
        rows = ctx.records().plans.with_status("pending_approval")
        assert len(rows) == 3
        views = approval_views(ctx, rows, NOW + 100)
        assert views == [approval_view(ctx, r, NOW + 100) for r in rows]
        assert [v["counted"] for v in views] == [2, 0, 1]
        assert [len(v["approvals"]) for v in views] == [2, 1, 1]
        ctx.close()


def test_plan_page__stale_plan__says_why_in_words_escaped(env):  # noqa: F811
    """A plan the fund moved under ends stale with its reason; the page says it beside the
    status (the keeper's history did, the page showed only the status)."""
    e, plans = env
    why = "cash short: 1,000.00 USDT needed, 10.00 USDT in L1 <b>now</b>"
    ended = {"status": "stale", "reason": why, "at": NOW, "stage": "risk check"}
    plans.update(REF, "stale", ended=ended)
    with running_console(e, now=NOW) as c:
        status, _, page = Client(c.url).get(f"/plans/{REF}")
    assert status == 200
    shown = re.search(r'<strong id="ended-reason">(.*?)</strong>', page, re.S)
    assert shown and "cash short: 1,000.00 USDT needed" in shown.group(1)
    assert "<b>now</b>" not in page and "&lt;b&gt;now&lt;/b&gt;" in shown.group(1)
    assert "why stale" in page


def test_plan_page__owners_signatures_count__pill_says_approved_before_the_tick(env):  # noqa: F811
    """Issue 67: as soon as the owners' signatures count, the status pill says approved (it
    said pending_approval beside "2 of 2: approved, waiting for the keeper to execute" until
    the keeper's next tick stored it)."""
    from tests.offchain.console.test_console_security import frozen_plan

    e, plans = env
    row = plans.get(REF)
    frozen = frozen_plan(REF).to_frozen([0, 1], ["allocateToLayer", "purchaseAsset"])
    plans.update(REF, frozen=frozen)
    pill = re.compile(r'<span class="pill[^"]*" data-status="([a-z_]+)">([a-z_]+)</span>')
    with running_console(e, now=NOW) as c:
        ops = Client(c.url)
        _, _, page = ops.get(f"/plans/{REF}")
        assert pill.search(page).groups() == ("pending_approval", "pending_approval")
        ops.sign_plan(REF, frozen_plan(REF), ("alice", "bob"), page)
        _, _, page = ops.get(f"/plans/{REF}")
    assert plans.get(REF).status == row.status == "pending_approval"  # no tick yet
    assert pill.search(page).groups() == ("approved", "approved")
    assert "2 of 2: approved, waiting for the keeper to execute" in page
