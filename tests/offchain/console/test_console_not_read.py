"""A plan's page and `keeper review` when the admin Safe behind the executor cannot be read
now (issue 65: a failed read is "not read" for that read only): the executor's ``safe()``
reverts for the keeper's read, the page still answers 200 with the plan and says the
SafeMessage hash is not read, and the command still shows the plan; once it answers again the
hash is shown."""

from __future__ import annotations

import re

from click.testing import CliRunner
from eth_utils import function_abi_to_4byte_selector

from keepers import abis
from keepers.cli import main
from tests.offchain.fundbot.executor_fund import *  # noqa: F403 - the fixtures (one module)
from tests.support.consolelib import Client, running_console
from tests.support.fundbotlib import UNIT
from tests.support.reverting_view import view_reverts


def test_plan_page__admin_safe_not_read__200_says_not_read_then_shows_the_hash(
    fresh, accounts, chain, executor_fund, keeper_bot
):
    _, ex, _safe = executor_fund
    env, bot = keeper_bot(KEEPER_RETRY_BACKOFF_S="0.05", KEEPER_LOG_LEVEL="WARNING")
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    now = int(chain.pending_timestamp)
    with running_console(env, now=now) as c:  # a manual plan, frozen by the keeper's tick
        status, headers, body = Client(c.url).propose_rebalance("ops-desk", "deposit to invest")
        assert status == 303, body
    ref = headers["Location"].removeprefix("/plans/")
    (out,) = bot.tick(now + 5)
    assert out.status == "pending_approval", out
    selector = "0x" + next(
        function_abi_to_4byte_selector(e).hex()
        for e in abis.load("PlanExecutor")
        if e.get("name") == "safe" and e.get("type") == "function"
    )
    with view_reverts(chain, ex.address, selector):
        with running_console(env, now=now) as c:
            status, _, page = Client(c.url).get(f"/plans/{ref}")
        review = CliRunner().invoke(main, ["review", ref], env=env)
    assert status == 200, page[-2000:]
    assert 'id="safe-not-read"' in page and 'id="plan-hash"' in page
    assert review.exit_code == 0, review.output
    with running_console(env, now=now) as c:
        status, _, page = Client(c.url).get(f"/plans/{ref}")
    assert status == 200 and 'id="safe-not-read"' not in page
    assert re.search(r'id="safe-message-hash">0x[0-9a-f]{64}<', page)
