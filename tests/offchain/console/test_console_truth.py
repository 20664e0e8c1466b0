"""Pages that tell an approver the truth, in Chromium (screenshots under .build/console/),
chain-free on the store of test_console_security: a plan frozen for the PlanExecutor waiting
for 2 of 3 owners, as the keeper's last tick left it ("0 of 2 ... signed so far").

Each case was misleading on the console before: a plan whose signatures count still offered
to sign and sat in the queue as waiting; a MANUAL plan read "manual: no"; the risk table
repeated one finding per action and showed the gas rule's numbers in base units; the
simulation section said "on a fork"; "who may sign" was lower-case beside checksummed
signers; a signature over another plan was refused leading with a random "recovered"
address; the call column broke ``purchaseAsset`` mid-word."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from eth_utils import to_checksum_address

from ballast_dev.local.keystores import account_key
from keepers.fund.planning.plan_approval import sign_plan
from tests.offchain.console.test_console_browser import shot, wait_for
from tests.offchain.console.test_console_security import (  # noqa: F401 - the env fixture
    NOW,
    OWNERS,
    REF,
    env,
    frozen_plan,
)
from tests.support.consolelib import Client, chromium, chromium_or_skip, running_console


def as_the_keeper_left_it(plans: Any) -> None:
    """The stored plan as `keeper run` leaves it: manual in its trigger only (the report's
    ``manual`` flag is the planner's, False for a MANUAL trigger), the risk check's findings
    (one liquidity finding per action, the gas rule in base units), the last tick's approval
    detail, and a purchase among its calls."""
    row = plans.get(REF)
    report = dict(row.payload["report"], manual=False)
    risk = [
        *row.payload["risk"],
        *({"rule": "liquidity", "level": "ok", "detail": "no redeem", "action": i} for i in (0, 1)),
        {"rule": "gas", "level": "ok", "detail": "gas 0 vs benefit 8940000000", "action": None},
    ]
    approval = dict(row.payload["approval"], detail="0 of 2 current Safe owners signed so far")
    frozen = frozen_plan(REF).to_frozen([0, 1], ["allocateToLayer", "purchaseAsset"])
    plans.update(REF, report=report, risk=risk, approval=approval, frozen=frozen)


def text_of(driver: Any, element_id: str) -> str:
    return str(driver.find_element("id", element_id).text)


@pytest.fixture(scope="module")
def _chromium() -> Iterator[Any]:
    """One headless Chromium for the module's pages (starting one costs a second or two of
    CPU per test); each test gets it with no cookie or cache of the one before."""
    chromium_or_skip()
    driver = chromium()
    yield driver
    driver.quit()
    shutil.rmtree(driver.profile_dir, ignore_errors=True)


@pytest.fixture
def browser(_chromium: Any) -> Iterator[Any]:
    """The module's Chromium on a blank page, its cookies and cache cleared (the consoles of
    earlier tests, on other ports of 127.0.0.1, set theirs: cookies are per host)."""
    _chromium.get("about:blank")
    _chromium.execute_cdp_cmd("Network.clearBrowserCookies", {})
    _chromium.execute_cdp_cmd("Network.clearBrowserCache", {})
    assert _chromium.execute_cdp_cmd("Network.getAllCookies", {})["cookies"] == []
    yield _chromium
    _chromium.get("about:blank")


@pytest.fixture
def console(env, browser):  # noqa: F811
    """(the console's URL, Chromium at 900 px wide, the plan store), the plan as the keeper
    left it."""
    e, plans = env
    as_the_keeper_left_it(plans)
    with running_console(e, now=NOW + 60) as c:
        browser.set_window_size(900, 1600)  # a laptop's half screen: columns get narrow
        yield c.url, browser, plans


def test_plan_page__manual_trigger__reads_manual_yes(console):
    url, driver, _ = console
    driver.get(f"{url}/plans/{REF}")
    assert "manual yes" in text_of(driver, "plan-head")


def test_plan_page__risk_rows__folded_and_gas_in_whole_units(console):
    url, driver, _ = console
    driver.get(f"{url}/plans/{REF}")
    risk = [r.text for r in driver.find_elements("css selector", "#risk tbody tr")]
    assert len(risk) == 3, risk
    assert any("no redeem (actions 0, 1)" in r for r in risk), risk
    assert any("gas 0.00 vs benefit 8,940.00" in r for r in risk), risk


def test_plan_page__simulation__says_on_the_node_not_on_a_fork(console):
    url, driver, _ = console
    driver.get(f"{url}/plans/{REF}")
    sim = text_of(driver, "simulation")
    assert "on the node (eth_simulateV1" in sim and "on a fork" not in sim, sim


def test_plan_page__who_may_sign__checksummed(console):
    url, driver, _ = console
    driver.get(f"{url}/plans/{REF}")
    approval = text_of(driver, "approval")
    for owner in OWNERS:  # checksummed, as the signatures are
        assert to_checksum_address(owner) in approval, approval
    assert OWNERS[0].lower() not in approval


def test_plan_page__call_column__no_word_broken(console):
    url, driver, _ = console
    driver.get(f"{url}/plans/{REF}")
    calls = driver.find_elements("css selector", "#actions tbody td:last-child code")
    assert [x.text.replace("\n", "") for x in calls] == ["allocateToLayer", "purchaseAsset"]
    for x in calls:
        lines = driver.execute_script("return arguments[0].getClientRects().length", x)
        height = driver.execute_script("return arguments[0].getBoundingClientRect().height", x)
        line = driver.execute_script(
            "return parseFloat(getComputedStyle(arguments[0]).lineHeight) || 20", x
        )
        assert lines == 1 and height < 1.5 * line, (x.text, lines, height, line)
    shot(driver, "truth-plan")


def test_plan_page__amounts_in_whole_units__base_units_on_request(console):
    url, driver, _ = console
    driver.get(f"{url}/plans/{REF}")
    assert "total moved 400,000.00" in text_of(driver, "plan-head")
    driver.get(f"{url}/plans/{REF}?units=base")
    assert "400000000000 base units" in text_of(driver, "plan-head")


def test_plan_page__signature_over_another_plan__refusal_leads_with_why(console):
    url, driver, plans = console
    other = "0x" + sign_plan(frozen_plan("plan-other"), account_key("alice")).hex()
    driver.get(f"{url}/plans/{REF}")
    driver.find_element("id", "signature-input").send_keys(other)
    driver.find_element("id", "paste-submit").click()
    flash = wait_for(lambda: text_of(driver, "flash"), what="the refusal")
    assert flash.startswith("refused: Signed by a non-owner, or over another plan"), flash
    assert "recovers to" in flash  # still said, after the reason
    assert plans.approvals(REF) == []
    shot(driver, "truth-refused-other-plan")


def test_plan_page__signatures_count__approved_at_once__nothing_to_sign__queue_apart(console):
    url, driver, _ = console
    ops = Client(url)
    _, _, page = ops.get(f"/plans/{REF}")
    ops.sign_plan(REF, frozen_plan(REF), ("alice", "bob"), page)
    driver.get(f"{url}/plans/{REF}")
    approved = "2 of 2: approved, waiting for the keeper to execute"
    assert approved in text_of(driver, "plan-head")
    # the pill says so too, before the keeper's tick stores it (issue 67: it said
    # pending_approval beside the sentence)
    pill = driver.find_element("css selector", "#plan-head [data-status]")
    assert (pill.get_attribute("data-status"), pill.text) == ("approved", "approved")
    assert not driver.find_elements("id", "sign")
    assert not driver.find_elements("id", "paste-form")
    last = text_of(driver, "approval")
    assert approved in last and "said: 0 of 2" in last, last
    shot(driver, "truth-approved")
    # the queue lists it apart, not as waiting
    driver.get(f"{url}/approvals")
    assert REF not in driver.find_element("tag name", "main").text.split("Approved, waiting")[0]
    assert approved in text_of(driver, "approved-queue")
    shot(driver, "truth-approvals")
