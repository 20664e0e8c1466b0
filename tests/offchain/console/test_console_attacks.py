"""The console against the three ways in found from the outside, each in the real Chromium the
approvers use (and the rebinding read over plain HTTP too), chain-free on the store of
test_console_security (a plan frozen for the PlanExecutor, waiting for 2 of 3 owners):

- **a page on another port of 127.0.0.1** sets its own cookies under the console's cookie
  names (cookies are per host, not per port), sends no referrer (so Chromium posts with
  ``Origin: null``) and auto-submits a real owner's signature, then a manual rebalance, with
  the value it planted as the CSRF token: nothing is stored, no plan is proposed;
- **DNS rebinding**: ``rebind.test`` resolved to 127.0.0.1 (Chromium's host resolver rules):
  a page of ``http://rebind.test:PORT`` reads nothing (400, the host allow-list) and posts
  nothing;
- **200 concurrent GETs** of a plan page, all answered (loopback, bounded: each request gives
  up after 60 s and the test with it); the p95 is written to .build/console/concurrency.json.
"""

from __future__ import annotations

import json
import shutil
import statistics
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from ballast_dev.local.keystores import account_key
from keepers.fund.planning.plan_approval import sign_plan
from tests.offchain.console.test_console_browser import ARTEFACTS, wait_for
from tests.offchain.console.test_console_security import (  # noqa: F401 - the env fixture
    NOW,
    REF,
    env,
    frozen_plan,
)
from tests.support.consolelib import Client, chromium, chromium_or_skip, running_console
from tests.support.local_http import LocalHttp, QuietHandler

PLANTED = "ab" * 32  # the attacker's "token": 64 hex digits, the shape the console issued


@pytest.fixture
def browser() -> Iterator[Any]:
    chromium_or_skip()
    # rebind.test resolves to 127.0.0.1, as a rebinding DNS server answers once the page has
    # loaded; nothing else is mapped
    driver = chromium("--host-resolver-rules=MAP rebind.test 127.0.0.1")
    yield driver
    driver.quit()
    shutil.rmtree(driver.profile_dir, ignore_errors=True)


class AttackerSite(LocalHttp):
    """An HTTP server on another port of 127.0.0.1 serving the attacker's pages (``pages``:
    path -> HTML), each answer setting the attacker's cookies under the console's names."""

    def __init__(self, pages: dict[str, str]) -> None:
        class H(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = pages.get(self.path, "").encode()
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                # the console's cookie names, for the whole host: an HTTP answer may replace
                # the console's HttpOnly cookies (a script may not), whatever the port
                for name in ("ballast_csrf", "ballast_session"):
                    self.send_header("Set-Cookie", f"{name}={PLANTED}; Path=/")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(H)


def auto_post(action: str, fields: dict[str, str]) -> str:
    """The attacker's page (its server has set the cookies): no referrer, so the POST's
    Origin is null, and a form submitted at once."""
    inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in fields.items())
    return (
        '<!doctype html><html><head><meta name="referrer" content="no-referrer"></head><body>'
        f'<form id="f" method="post" action="{action}">{inputs}</form>'
        '<script>document.getElementById("f").submit()</script></body></html>'
    )


def test_cross_port_page__planted_cookie_and_origin_null__stores_no_signature_no_plan(env, browser):  # noqa: F811
    e, plans = env
    sig = "0x" + sign_plan(frozen_plan(REF), account_key("alice")).hex()
    before = [p.ref for p in plans.history(100)]
    with running_console(e, now=NOW + 60) as c:
        # the owner has the console open: a session of its own
        browser.get(f"{c.url}/plans/{REF}")
        assert browser.find_elements("id", "plan-head")
        site = AttackerSite(
            {
                "/sign": auto_post(
                    f"{c.url}/plans/{REF}/signature",
                    {"signature": sig, "csrf": PLANTED, "note": "cross-port"},
                ),
                "/rebalance": auto_post(
                    f"{c.url}/rebalance", {"by": "mallory", "reason": "x", "csrf": PLANTED}
                ),
            }
        )
        try:
            for path, target in (
                ("/sign", f"/plans/{REF}/signature"),
                ("/rebalance", "/rebalance"),
            ):
                served = c.console.requests[target]
                browser.get(site.url + path)
                # the form reached the console (and was answered) before anything is checked
                wait_for(lambda t=target, n=served: c.console.requests[t] > n, what=target)
                wait_for(
                    lambda: browser.execute_script("return document.readyState") == "complete",
                    what="the answer",
                )
                text = browser.find_element("tag name", "body").text
                assert "recorded" not in text, text
                assert "Error 403" in text, text
        finally:
            site.close()
    assert plans.approvals(REF) == []
    assert [p.ref for p in plans.history(100)] == before


def test_dns_rebinding__foreign_host__400_reads_nothing_posts_nothing(env, browser):  # noqa: F811
    e, plans = env
    before = [p.ref for p in plans.history(100)]
    with running_console(e, now=NOW + 60) as c:
        port = c.url.rsplit(":", 1)[1]
        # over HTTP: every page and every POST under a Host that is not the console's
        for path in ("/fund", "/approvals", "/plans", f"/plans/{REF}", f"/plans/{REF}/typed-data"):
            status, _, body = Client(c.url, {"Host": f"rebind.test:{port}"}).get(path)
            assert status == 400, path
            assert REF not in body and "csrf" not in body, path
        status, _, _ = Client(c.url, {"Host": f"rebind.test:{port}"}).post(
            "/rebalance", form={"by": "x", "reason": "y"}
        )
        assert status == 400
        # the console's own names still work
        assert Client(c.url).get("/fund")[0] == 200
        assert Client(f"http://localhost:{port}").get("/approvals")[0] == 200
        # in Chromium: a page of http://rebind.test:PORT (the attacker's name, now 127.0.0.1)
        browser.get(f"http://rebind.test:{port}/fund")
        body = browser.find_element("tag name", "body").text
        assert "Invalid host header" in body and "NAV" not in body, body
        got = browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "Promise.all(['/fund', '/approvals', '/plans/" + REF + "'].map(p => fetch(p)"
            ".then(r => r.text().then(t => [r.status, t]))))"
            ".then(rs => fetch('/rebalance', {method: 'POST', headers: {'Content-Type': "
            "'application/x-www-form-urlencoded'}, body: 'by=x&reason=y'})"
            ".then(r => done({reads: rs, post: r.status})))"
            ".catch(err => done({error: String(err)}));"
        )
        assert "error" not in got, got
        assert [s for s, _ in got["reads"]] == [400, 400, 400]
        assert all(REF not in t for _, t in got["reads"])
        assert got["post"] == 400
    assert [p.ref for p in plans.history(100)] == before


def test_200_concurrent_gets_of_a_plan_page__all_answered__p95_recorded(env):  # noqa: F811
    e, _ = env
    n = 200
    with running_console(e, now=NOW + 60) as c:
        url = f"{c.url}/plans/{REF}"
        start = threading.Barrier(n)

        def one(_: int) -> tuple[int | str, float]:
            start.wait(30)
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(url, timeout=60) as r:
                    r.read()
                    return r.status, time.perf_counter() - t0
            except Exception as err:  # noqa: BLE001 - counted as unanswered, named below
                return type(err).__name__, time.perf_counter() - t0

        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=n) as pool:
            results = list(pool.map(one, range(n)))
        wall = time.perf_counter() - began
    failed = [s for s, _ in results if s != 200]
    seconds = sorted(t for _, t in results)
    figures = {
        "requests": n,
        "answered_200": n - len(failed),
        "failed": failed,
        "wall_s": round(wall, 2),
        "median_ms": round(statistics.median(seconds) * 1000, 1),
        "p95_ms": round(seconds[int(0.95 * n) - 1] * 1000, 1),
        "max_ms": round(seconds[-1] * 1000, 1),
    }
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    (ARTEFACTS / "concurrency.json").write_text(json.dumps(figures, indent=2))
    print("concurrency:", json.dumps(figures))
    assert not failed, figures


def test_link_from_another_site__signed_in_session_kept__the_page_not_the_login(
    env,  # noqa: F811
    browser,
):
    """A notification's link opened from another site (a chat): the browser withholds the
    SameSite=Strict session cookie on that navigation; the console has the page ask for itself
    again from its own origin instead of answering with a login form and a new session, so
    the approver who signed in sees the plan."""
    e, _ = env
    token = "t0ken-for-the-console-3f9a1c"
    with running_console(e | {"KEEPER_CONSOLE_TOKEN": token}, now=NOW + 60) as c:
        browser.get(f"{c.url}/login")
        browser.find_element("id", "token").send_keys(token)
        browser.find_element("id", "login-submit").click()
        wait_for(lambda: browser.find_elements("id", "queue"), what="the queue, signed in")
        chat = AttackerSite({"/chat": f'<a id="link" href="{c.url}/plans/{REF}">the plan</a>'})
        try:
            # cross-site from the console's point of view: another host name for loopback
            browser.get(chat.url.replace("127.0.0.1", "localhost") + "/chat")
            browser.find_element("id", "link").click()
            wait_for(lambda: browser.find_elements("id", "plan-head"), what="the plan page")
            assert not browser.find_elements("id", "login")
        finally:
            chat.close()
