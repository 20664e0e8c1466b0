"""The console as an approver uses it (issue 46), in a real headless Chromium (Debian's
chromium and chromium-driver; .ci/run installs them when missing): the local fund behind a
PlanExecutor and a real Safe 1.4.1 (alice, bob, carol; 2 of 3: tests/offchain/fundbot/
executor_fund.py), a 400,000 deposit, and the keeper's plan waiting for two owners.

The plan's page is loaded, its tiers chart (bands, before and expected bars) and actions are
checked; an injected EIP-1193 provider hands each ``eth_signTypedData_v4`` to the test, which
forwards it to the local anvil's unlocked owner account (a wallet extension does the same
outside the page); an attacker's wallet is refused with the command line's words; alice and
bob sign; the keeper executes; the page shows the plan executed with its report. The
notification of the waiting plan goes to a local webhook receiver and links to that page. The
escaping, CSRF and token cases run in the same browser. Screenshots and the page costs
(requests per page, the plan page's render time) are kept under .build/console/."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.offchain.fundbot.executor_fund import *  # noqa: F403 - the fixtures (one module)
from tests.support.consolelib import Receiver, chromium, chromium_or_skip, running_console
from tests.support.fundbotlib import ROOT, UNIT, plan_waiting

ARTEFACTS = ROOT / ".build" / "console"
TOKEN = "browser-test-token-6b1f0e2d"
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'

# an EIP-1193 provider for the page: each request is queued for the test, which answers it
# (eth_signTypedData_v4 forwarded to anvil's unlocked account) through window.__answer
PROVIDER = """
window.__wallet = {queue: [], waiting: {}, next: 1};
window.__answer = function (id, result, error) {
  const w = window.__wallet.waiting[id]; delete window.__wallet.waiting[id];
  if (error) { w.reject(new Error(error)); } else { w.resolve(result); }
};
window.ethereum = {
  isTestWallet: true,
  request: function (args) {
    if (args.method === 'eth_requestAccounts' || args.method === 'eth_accounts')
      return Promise.resolve(['%(account)s']);
    if (args.method === 'eth_chainId') return Promise.resolve('%(chain)s');
    return new Promise(function (resolve, reject) {
      const id = window.__wallet.next++;
      window.__wallet.waiting[id] = {resolve: resolve, reject: reject};
      window.__wallet.queue.push({id: id, method: args.method, params: args.params});
    });
  }
};
"""


@pytest.fixture
def browser() -> Iterator[Any]:
    chromium_or_skip()
    driver = chromium()
    yield driver
    driver.quit()
    shutil.rmtree(driver.profile_dir, ignore_errors=True)


def shot(driver: Any, name: str) -> None:
    """The whole page (the window stretched to it for the shot), as .build/console/NAME.png."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1200, min(max(height, 600), 6000))
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(ARTEFACTS / f"{name}.png"))
    driver.set_window_size(1200, 1600)


def wait_for(check: Any, timeout: float = 30.0, what: str = "") -> Any:
    """`check()` once it is truthy; an element gone or stale while the page reloads (the
    page reloads itself after a recorded signature) is asked again."""
    from selenium.common.exceptions import WebDriverException

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            got = check()
        except WebDriverException:
            got = None
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def sign_in_browser(driver: Any, chain: Any, who: Any) -> str:
    """Inject the wallet of `who`, press "Sign with your wallet", forward the page's
    eth_signTypedData_v4 to anvil (`who` is one of its unlocked accounts) and answer it;
    returns the status line the page shows."""
    from selenium.webdriver.common.by import By

    driver.execute_script(PROVIDER % {"account": who.address, "chain": hex(chain.chain_id)})
    driver.find_element(By.ID, "sign").click()
    req = wait_for(
        lambda: driver.execute_script("return window.__wallet.queue.shift() || null"),
        what="the page's eth_signTypedData_v4",
    )
    assert req["method"] == "eth_signTypedData_v4" and req["params"][0] == who.address
    signature = chain.provider.web3.provider.make_request(
        "eth_signTypedData_v4", [who.address, req["params"][1]]
    )["result"]
    driver.execute_script("window.__answer(arguments[0], arguments[1])", req["id"], signature)

    def answered() -> str | None:
        text = str(driver.find_element(By.ID, "sign-status").text)
        return text if text.startswith(("Recorded", "Refused")) else None

    return str(wait_for(answered, what="the page's answer"))


def test_two_owners_sign_in_the_browser__keeper_executes__page_shows_the_report(
    browser, fresh, accounts, chain, executor_fund, owners, attacker, keeper_bot
):
    from selenium.webdriver.common.by import By

    fund, ex, safe = executor_fund
    alice, bob, _ = owners
    env, bot = keeper_bot(KEEPER_RETRY_BACKOFF_S="0.05", KEEPER_LOG_LEVEL="WARNING")
    ref, now = plan_waiting(bot, fresh, accounts[1], chain)
    frozen = bot.plans.get(ref).payload["frozen"]
    receiver = Receiver(down=1, status=500)  # the first POST fails: the notifier retries
    costs: dict[str, Any] = {}
    try:
        hook = {"KEEPER_CONSOLE_WEBHOOK_URL": receiver.url, "KEEPER_CONSOLE_WEBHOOK_BACKOFF_S": "0"}
        with running_console(env | hook, now=now + 10) as c:
            from keepers.console.notify import Notifier

            notifier = Notifier(c.console.settings, c.ctx, c.url, lock=c.console.lock)
            assert notifier.scan(now + 10) == [("approval_needed", ref)]
            (note,) = receiver.bodies
            link = note["alerts"][0]["generatorURL"]
            assert link == f"{c.url}/plans/{ref}" and link in note["text"]
            assert frozen["plan_hash"] in note["text"]

            # the queue, then the plan's ticket from the notification's link
            browser.get(f"{c.url}/approvals")
            browser.find_element(By.LINK_TEXT, ref)
            shot(browser, "approvals")
            before = sum(c.console.requests.values())
            browser.get(link)
            costs["plan_page_requests"] = sum(c.console.requests.values()) - before
            # the first page that needs the chain builds the fund bot (deployment record, chain
            # check): measured apart from a page served by the console once it runs
            costs["plan_page_first_render_ms"] = round(
                c.console.render_s[f"/plans/{ref}"] * 1000, 1
            )
            browser.get(link)
            costs["plan_page_render_ms"] = round(c.console.render_s[f"/plans/{ref}"] * 1000, 1)
            # what the browser itself fetched for the page (beyond the document) and when
            # the page was ready (navigation start to the load event)
            costs["plan_page_browser_fetches"] = browser.execute_script(
                "return performance.getEntriesByType('resource').length"
            )
            costs["plan_page_load_ms"] = browser.execute_script(
                "const n = performance.getEntriesByType('navigation')[0];"
                "return Math.round(n.loadEventEnd - n.startTime)"
            )
            costs["plan_page_bytes"] = len(browser.page_source.encode())
            assert costs["plan_page_browser_fetches"] == 0  # one request: everything inline
            # the baseline, in the same run: `keeper review PLAN` (in-process, so without the
            # interpreter's start-up), the command line's view of the same plan
            from click.testing import CliRunner

            from keepers.cli import main

            started = time.perf_counter()
            r = CliRunner(mix_stderr=False).invoke(
                main, ["--now", str(now + 10), "review", ref], env=env
            )
            assert r.exit_code == 0, r.stderr
            costs["keeper_review_ms"] = round((time.perf_counter() - started) * 1000, 1)
            chart = browser.find_element(By.ID, "tiers-chart")
            tiers = chart.find_elements(By.CSS_SELECTOR, "g.tier")
            assert [t.get_attribute("data-tier") for t in tiers] == ["L1", "L2", "L3"]
            for t, (_, lo, hi) in zip(
                tiers, (fund.controller.tier(i) for i in range(3)), strict=True
            ):
                assert (
                    int(t.get_attribute("data-min-bps")),
                    int(t.get_attribute("data-max-bps")),
                ) == (int(lo), int(hi))
                assert t.find_elements(By.CSS_SELECTOR, "rect.band")
                assert t.find_elements(By.CSS_SELECTOR, "rect.bar.before")
                expected = t.find_element(By.CSS_SELECTOR, "rect.bar.expected")
                assert int(lo) <= int(expected.get_attribute("data-ratio-bps")) <= int(hi)
            rows = browser.find_elements(By.CSS_SELECTOR, "#actions tbody tr")
            assert len(rows) == len(frozen["actions"])
            assert all("bps (target" in r.text or "no quote" in r.text for r in rows)
            assert browser.find_element(By.ID, "plan-hash").text == frozen["plan_hash"]
            assert browser.find_element(By.ID, "safe-message-hash").text.startswith("0x")
            assert browser.find_element(By.ID, "counted").text == "0 of 2"
            # amounts in whole units with the base token's symbol (read from the chain)
            symbol = fund.cash.symbol()
            head = browser.find_element(By.ID, "plan-head").text
            assert re.search(rf"total moved [\d,]+\.\d\d {re.escape(symbol)}\b", head), head
            shot(browser, "plan-waiting")

            # an attacker's wallet: refused with the command line's words, nothing recorded
            status = sign_in_browser(browser, chain, attacker)
            assert status.startswith("Refused:") and "not an admin of plan" in status, status
            assert bot.plans.approvals(ref) == []
            shot(browser, "plan-refused-signature")

            # CSRF: a POST from the page without the token is refused
            code = browser.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "fetch(location.pathname + '/signature', {method: 'POST', headers: "
                "{'Content-Type': 'application/json'}, body: '{\"signature\": \"0x00\"}'})"
                ".then(r => done(r.status));"
            )
            assert code == 403

            for who, count in ((alice, "1 of 2"), (bob, "2 of 2")):
                status = sign_in_browser(browser, chain, who)
                assert status.startswith("Recorded: signed by " + who.address), status
                wait_for(  # the page reloads itself: the new count, the page loaded
                    lambda count=count: (
                        browser.find_element(By.ID, "counted").text == count
                        and browser.execute_script("return document.readyState") == "complete"
                    ),
                    what=count,
                )
            assert [a.admin.lower() for a in bot.plans.approvals(ref)] == [
                alice.address.lower(),
                bob.address.lower(),
            ]
            wait_for(
                lambda: (
                    browser.execute_script("return document.readyState") == "complete"
                    and browser.find_element(By.ID, "counted").text == "2 of 2"
                ),
                what="the reloaded page",
            )
            shot(browser, "plan-signed")

            # the keeper executes on its next tick; the page shows it with its report
            (done,) = bot.tick(now + 60)
            assert done.status == "executed", done
            browser.get(link)
            pill = browser.find_element(By.CSS_SELECTOR, "#plan-head [data-status]")
            assert pill.get_attribute("data-status") == "executed"
            results = browser.find_elements(By.CSS_SELECTOR, "#results tbody tr")
            assert len(results) == len(frozen["actions"])
            assert all(" ok " in f" {r.text} " and "0x" in r.text for r in results)
            assert browser.find_elements(By.CSS_SELECTOR, "rect.bar.actual")
            assert not browser.find_elements(By.ID, "sign")  # nothing left to sign
            shot(browser, "plan-executed")
            assert notifier.scan(now + 70) == [("report", ref)]
            assert "executed" in receiver.bodies[-1]["text"]

            # escaping: markup stored in a plan's report is shown as text, never run
            report = bot.plans.get(ref).payload["report"]
            report["triggers"] = [{"kind": "manual", "code": "manual", "reason": XSS}]
            bot.plans.update(ref, report=report)
            browser.get(link)
            assert browser.execute_script("return window.__xss === undefined")
            assert XSS in browser.find_element(By.ID, "triggers").text

            # the operators' page of the same fund
            before = sum(c.console.requests.values())
            browser.get(f"{c.url}/fund")
            costs["fund_page_requests"] = sum(c.console.requests.values()) - before
            costs["fund_page_render_ms"] = round(c.console.render_s["/fund"] * 1000, 1)
            assert len(browser.find_elements(By.CSS_SELECTOR, "#tiers-chart g.tier")) == 3
            held = browser.find_elements(By.CSS_SELECTOR, "#assets tbody tr")
            assert held
            for r in held:  # balances and prices in whole units with symbols, no base units
                numbers = re.sub(r"0x[0-9a-fA-F]{40}", "", r.text).replace(",", "")
                assert not re.search(r"\d{10,}", numbers), r.text
                assert " per " in r.text and symbol in r.text, r.text
            for cell in browser.find_elements(By.CSS_SELECTOR, "#nav tbody td"):
                if re.match(r"[\d,]+\.\d\d", cell.text):
                    assert cell.text.endswith(f" {symbol}"), cell.text
            shot(browser, "fund")

        # the token: the same console with KEEPER_CONSOLE_TOKEN asks for it first
        with running_console(env | {"KEEPER_CONSOLE_TOKEN": TOKEN}, now=now + 70) as c:
            browser.delete_all_cookies()
            browser.get(f"{c.url}/plans/{ref}")
            assert browser.find_elements(By.ID, "login") and ref not in browser.find_element(
                By.TAG_NAME, "main"
            ).text.replace(f"/plans/{ref}", "")
            shot(browser, "login")
            browser.find_element(By.ID, "token").send_keys("wrong-token-000000")
            browser.find_element(By.ID, "login-submit").click()
            # the form posts and the page is replaced: wait for the answer, not the old page
            wait_for(
                lambda: "wrong token" in browser.find_element(By.ID, "flash").text,
                what="the refused token's message",
            )
            browser.find_element(By.ID, "token").send_keys(TOKEN)
            browser.find_element(By.ID, "login-submit").click()
            wait_for(lambda: browser.find_elements(By.ID, "plan-head"), what="the plan page")
            assert TOKEN not in browser.page_source
    finally:
        receiver.close()
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    (ARTEFACTS / "costs.json").write_text(json.dumps(costs, indent=2))


def test_manual_rebalance_from_the_page__a_plan_under_the_same_approvals__safe_signs_as_itself(
    fresh, accounts, chain, executor_fund, owners, keeper_bot
):
    """The operators' "Propose a manual rebalance" stores a proposed plan only (the console
    has no key): the keeper's tick risk-checks and freezes it, and it waits for the owners like
    any plan. The admin Safe then approves it as itself: the SafeMessage hash the page shows is
    the one the Safe's owners sign, and its combined signature pasted on the page counts as the
    Safe's threshold (below the threshold it is refused with the command line's words)."""
    from ballast_dev.deployment.safe import container, safe_message_signature
    from keepers.fund.planning.plan_approval import SignedPlan, plan_hash
    from tests.support.consolelib import Client

    _, ex, safe = executor_fund
    alice, _, carol = owners
    env, bot = keeper_bot(KEEPER_RETRY_BACKOFF_S="0.05", KEEPER_LOG_LEVEL="WARNING")
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    now = int(chain.pending_timestamp)
    with running_console(env, now=now) as c:
        ops = Client(c.url)
        status, headers, body = ops.propose_rebalance("ops-desk", "deposit to invest")
        assert status == 303, body
        ref = headers["Location"].removeprefix("/plans/")
        assert bot.plans.get(ref).status == "proposed"
        assert bot.plans.get(ref).payload.get("frozen") is None  # nothing signed or sent yet
        (out,) = bot.tick(now + 5)
        assert out.status == "pending_approval", out
        row = bot.plans.get(ref)
        assert any(t["kind"].lower() == "manual" for t in row.payload["report"]["triggers"])
        sp = SignedPlan.from_frozen(row.payload["frozen"])
        digest = plan_hash(sp)
        _, _, page = ops.get(f"/plans/{ref}")
        handler = container("CompatibilityFallbackHandler").at(safe.address)
        expected = bytes(handler.getMessageHashForSafe(safe.address, digest))
        shown = re.search(r'id="safe-message-hash">(0x[0-9a-f]{64})<', page)
        assert shown and shown.group(1) == "0x" + expected.hex()
        csrf = ops.csrf(page)
        one = "0x" + safe_message_signature(safe, digest, [alice]).hex()
        status, _, page = ops.post(f"/plans/{ref}/signature", form={"signature": one, "csrf": csrf})
        assert status == 409 and "isValidSignature does not accept it" in page
        both = "0x" + safe_message_signature(safe, digest, [alice, carol]).hex()
        status, _, page = ops.post(
            f"/plans/{ref}/signature", form={"signature": both, "csrf": csrf}
        )
        assert status == 200 and f"recorded: signed by {safe.address}" in page, page[-2000:]
        assert re.search(r'id="counted">2 of 2<', page)
        (done,) = bot.tick(now + 60)
        assert done.status == "executed", done
