"""The web console's security rules (issue 46), over real HTTP, chain-free: a store holding a
plan frozen for the PlanExecutor and waiting for 2 of 3 owners, as the running keeper leaves
it (the fixture of tests/offchain/fundbot/test_fundbot_approve_signed.py). Each rule is tried:
loopback by default and a token for any other address (exit 2 naming the setting), CSRF on
every POST, every stored value escaped, a signature that does not recover to an owner refused
with the command line's own words, no secret on any page. The same cases run in Chromium in
test_console_browser.py."""

from __future__ import annotations

import json
import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from eth_utils import to_checksum_address

from ballast_dev.local.keystores import account_address, account_key
from keepers.cli import main
from keepers.console.settings import ConsoleSettings
from keepers.core.errors import EXIT_CONFIG, ConfigError
from keepers.core.settings import load_settings
from keepers.fund.planning.actions import Action, ActionType, Plan
from keepers.fund.planning.plan_approval import plan_hash, sign_plan
from keepers.fund.planning.triggers import Trigger, TriggerKind
from keepers.fund.records import PENDING_APPROVAL, PROPOSED, PlanStore
from keepers.store.db import Store
from tests.support.consolelib import Client, running_console
from tests.support.signed_plans import HOUR, NOW, frozen_plan

REF = "plan-3e0efd41"
OWNERS = [account_address(n) for n in ("alice", "bob", "carol")]
TOKEN = "t0ken-for-the-console-3f9a1c"
SIGNER_KEY = "0x" + "5e" * 32  # a keeper signer key in the environment: never on a page
HOOK = "http://127.0.0.1:9/hooks/T000/B000/s3cr3t-webhook-path"
MARKUP = '<script>alert("x")</script><img src=x onerror=alert(1)>'
ASSET = "0x" + "a5" * 20


def add_plan(plans: PlanStore, ref: str) -> None:
    """A plan waiting for 2 of 3 owners; its trigger reason, an action's reason and its
    report's token symbol carry markup (a hostile symbol on chain, a note typed by someone)."""
    action = Action(ActionType.ALLOCATE, 200_000_000_000, 0, f"invest L2 {MARKUP}", 0, 1)
    trig = Trigger(TriggerKind.MANUAL, "manual", f"requested by ops: {MARKUP}")
    buy = replace(action, type=ActionType.PURCHASE, priority=1, to_tier=2, asset=ASSET)
    plan = Plan(ref, NOW, (trig,), (action, buy))
    tiers = [
        {
            "tier": f"L{i + 1}",
            "value": v,
            "ratio_bps": r,
            "target_bps": t,
            "deviation_bps": r - t,
            "min_bps": lo,
            "max_bps": hi,
            "within_bounds": lo <= r <= hi,
        }  # fmt: skip
        for i, (v, r, t, lo, hi) in enumerate(
            [
                (700, 7000, 2000, 1000, 3000),
                (200, 2000, 4000, 3000, 5000),
                (100, 1000, 4000, 3000, 5000),
            ]
        )
    ]
    expected = [dict(t, ratio_bps=t["target_bps"], within_bounds=True) for t in tiers]
    payload: dict[str, Any] = {
        "report": {
            "plan_id": ref,
            "created_at": NOW,
            "manual": True,
            "base_decimals": 6,
            "total_amount": 400_000_000_000,
            "triggers": [{"kind": "manual", "code": "manual", "reason": trig.reason}],
            "actions": [{"asset": ASSET, "symbol": MARKUP}],  # a token symbol read on chain
            "tiers_before": tiers,
            "tiers_expected": expected,
        },
        "risk": [
            {
                "rule": "slippage",
                "level": "ok",
                "detail": "quote 12 bps under the oracle (target 50, limit 200)",
                "action": 0,
            },  # fmt: skip
        ],
        "approval": {
            "status": "pending",
            "requirement": "multi_admin",
            "required": 2,
            "deadline": NOW + 4 * HOUR,
            "admins": [a.lower() for a in OWNERS],
        },
        "requested_at": NOW,
        "frozen": frozen_plan(ref).to_frozen([0, 1], ["allocateToLayer", "allocateToLayer"]),
    }
    plans.save_new(plan, PROPOSED, payload)
    plans.update(ref, PENDING_APPROVAL)


@pytest.fixture
def env(tmp_path: Path) -> Any:
    url = f"sqlite:///{tmp_path}/keeper.db"
    store = Store(url)
    plans = PlanStore(store)
    add_plan(plans, REF)
    env = {
        "KEEPER_DB_URL": url,
        "KEEPER_RPC_URL": "http://127.0.0.1:9",  # nothing answers: the console needs no node
        "KEEPER_DEPLOYMENT": str(tmp_path / "none.json"),
        "KEEPER_LOG_LEVEL": "WARNING",
        "KEEPER_SIGNER_KEY": SIGNER_KEY,
        "KEEPER_CONSOLE_WEBHOOK_URL": HOOK,
    }
    yield env, plans
    store.close()


SECRETS = (TOKEN, SIGNER_KEY, SIGNER_KEY[2:], "s3cr3t-webhook-path")


def assert_no_secret(text: str) -> None:
    for s in SECRETS:
        assert s not in text, f"secret {s[:6]}... on a page"


def test_loopback_by_default__any_other_address_needs_a_token__exit_2_names_it(env):
    e, _ = env
    assert load_settings(ConsoleSettings, env={}).host == "127.0.0.1"
    with pytest.raises(ConfigError, match="KEEPER_CONSOLE_TOKEN"):
        load_settings(ConsoleSettings, env={"KEEPER_CONSOLE_HOST": "0.0.0.0"})
    with pytest.raises(ConfigError, match="KEEPER_CONSOLE_TOKEN"):
        load_settings(
            ConsoleSettings, env={"KEEPER_CONSOLE_HOST": "::", "KEEPER_CONSOLE_TOKEN": "short"}
        )
    every = {"KEEPER_CONSOLE_HOST": "0.0.0.0", "KEEPER_CONSOLE_TOKEN": TOKEN}
    # every address: only named hosts are answered, so a name is needed (else all is 400)
    with pytest.raises(ConfigError, match="KEEPER_CONSOLE_ALLOWED_HOSTS"):
        load_settings(ConsoleSettings, env=every)
    with pytest.raises(ConfigError, match="KEEPER_CONSOLE_ALLOWED_HOSTS='\\*.example'"):
        load_settings(ConsoleSettings, env=every | {"KEEPER_CONSOLE_ALLOWED_HOSTS": "*.example"})
    with pytest.raises(ConfigError, match="KEEPER_CONSOLE_SESSION_SECRET: at least 32"):
        load_settings(ConsoleSettings, env={"KEEPER_CONSOLE_SESSION_SECRET": "short"})
    ok = load_settings(
        ConsoleSettings, env=every | {"KEEPER_CONSOLE_ALLOWED_HOSTS": "console.example"}
    )
    assert ok.token is not None and TOKEN not in repr(ok)
    r = CliRunner(mix_stderr=False).invoke(
        main, ["console", "--host", "10.1.2.3"], env={**e, "KEEPER_CONSOLE_TOKEN": None}
    )
    assert r.exit_code == EXIT_CONFIG, r.output
    assert "KEEPER_CONSOLE_TOKEN" in r.stderr and "10.1.2.3" in r.stderr


def test_token__required_on_every_page__bearer_basic_or_login_cookie(env):
    e, plans = env
    with running_console({**e, "KEEPER_CONSOLE_TOKEN": TOKEN}, now=NOW + 60) as c:
        anon = Client(c.url)
        for path in ("/approvals", f"/plans/{REF}", "/plans", f"/plans/{REF}/typed-data"):
            status, _, body = anon.get(path)
            assert status == 401, path
            # nothing from the store (the login form only echoes the path asked for)
            assert "multi_admin" not in body and plan_hash(frozen_plan(REF)).hex() not in body
        status, _, _ = anon.post(f"/plans/{REF}/signature", json_body={"signature": "0x00"})
        assert status == 401 and plans.approvals(REF) == []
        assert Client(c.url, {"Authorization": f"Bearer {TOKEN}"}).get("/approvals")[0] == 200
        assert (
            Client(c.url, {"Authorization": "Bearer wrong-token-0123456789"}).get("/approvals")[0]
            == 401
        )
        import base64

        basic = base64.b64encode(f"ops:{TOKEN}".encode()).decode()
        assert Client(c.url, {"Authorization": f"Basic {basic}"}).get("/approvals")[0] == 200
        # the login form: CSRF-protected, a wrong token refused, the right one a session cookie
        browser = Client(c.url)
        status, _, page = browser.get("/login")
        csrf = browser.csrf(page)
        assert browser.post("/login", form={"token": TOKEN})[0] == 403
        assert browser.post("/login", form={"token": "nope", "csrf": csrf})[0] == 401
        status, headers, _ = browser.post(
            "/login", form={"token": TOKEN, "csrf": csrf, "next": "//evil.example/"}
        )
        assert status == 303 and headers["Location"] == "/approvals"
        cookie = [x.value for x in browser.jar if x.name == "ballast_session"][0]
        assert TOKEN not in cookie
        status, _, page = browser.get(f"/plans/{REF}")
        assert status == 200 and REF in page
        assert_no_secret(page)


def test_every_post_needs_the_csrf_token_and_the_same_origin(env):
    e, plans = env
    sig = "0x" + sign_plan(frozen_plan(REF), account_key("alice")).hex()
    with running_console(e, now=NOW + 60) as c:
        browser = Client(c.url)
        _, _, page = browser.get(f"/plans/{REF}")
        csrf = browser.csrf(page)
        # no token, a wrong one, a right one from another origin: refused, nothing recorded
        cases = [
            ({}, {"signature": sig}),
            ({"X-CSRF-Token": "0" * 64}, {"signature": sig}),
            ({"X-CSRF-Token": csrf, "Origin": "http://evil.example"}, {"signature": sig}),
        ]
        for headers, body in cases:
            status, _, out = browser.post(
                f"/plans/{REF}/signature", json_body=body, headers=headers
            )
            assert status == 403, (headers, out)
        # a form post from another site carries no cookie of ours (SameSite=Strict, and a
        # fresh client has none): refused
        status, _, _ = Client(c.url).post(
            f"/plans/{REF}/signature", form={"signature": sig, "csrf": csrf}
        )
        assert status == 403
        status, _, _ = browser.post("/rebalance", form={"by": "x", "reason": "y"})
        assert status == 403
        # behind a proxy: the public address's origin is ours, any other is not
        proxied = {
            "X-CSRF-Token": csrf,
            "Origin": "https://console.example",
            "Host": "10.0.0.5:8090",
        }
        status, _, _ = browser.post(
            f"/plans/{REF}/signature", json_body={"signature": sig}, headers=proxied
        )
        assert status == 400  # a Host that is not the console's: the host allow-list
        assert plans.approvals(REF) == []
        status, _, out = browser.post(
            f"/plans/{REF}/signature", json_body={"signature": sig}, headers={"X-CSRF-Token": csrf}
        )
        assert status == 200, out
        assert json.loads(out)["signer"] == OWNERS[0]
        assert [a.admin for a in plans.approvals(REF)] == [OWNERS[0]]


def test_every_stored_value_is_escaped(env):
    e, _ = env
    with running_console(e, now=NOW + 60) as c:
        browser = Client(c.url)
        sig = "0x" + sign_plan(frozen_plan(REF), account_key("bob")).hex()
        _, _, page = browser.get(f"/plans/{REF}")
        csrf = browser.csrf(page)
        status, _, _ = browser.post(
            f"/plans/{REF}/signature", form={"signature": sig, "note": MARKUP, "csrf": csrf}
        )
        assert status == 200
        for path in (f"/plans/{REF}", "/approvals", "/plans"):
            status, headers, page = browser.get(path)
            assert status == 200
            assert "<script>alert" not in page and "<img src=x" not in page, path
            assert "script-src 'nonce-" in headers["Content-Security-Policy"]
        _, _, page = browser.get(f"/plans/{REF}")
        # the trigger's reason, both actions' reasons, the token symbol and the note, each
        # shown as text
        assert page.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") >= 5
        assert (
            "buy &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; "
            f"({to_checksum_address(ASSET)})" in page
        )
        # the only scripts are the console's: the typed data (JSON) and its own code
        assert len(re.findall(r"<script\b", page)) == 2
        assert_no_secret(page)


def test_refused_signatures__the_command_lines_words__nothing_recorded(env):
    e, plans = env
    mallory = "0x" + sign_plan(frozen_plan(REF), account_key("mallory")).hex()
    other = "0x" + sign_plan(frozen_plan("plan-other"), account_key("alice")).hex()
    cases = {
        "mallory": mallory,
        "other plan": other,
        "malformed": "0xzz",
        "short": "0x" + "11" * 64,
    }
    for name, sig in cases.items():
        cli = CliRunner(mix_stderr=False).invoke(
            main, ["--now", str(NOW + 60), "approve", REF, "--signature", sig], env=e
        )
        assert cli.exit_code == 1, (name, cli.stderr)
        with running_console(e, now=NOW + 60) as c:
            browser = Client(c.url)
            _, _, page = browser.get(f"/plans/{REF}")
            status, _, out = browser.post(
                f"/plans/{REF}/signature",
                json_body={"signature": sig},
                headers={"X-CSRF-Token": browser.csrf(page)},
            )
        assert status == 409, (name, out)
        assert cli.stderr.strip() == f"keeper: {json.loads(out)['error']}", name
    assert plans.approvals(REF) == []
    assert (
        "not an admin of plan"
        in CliRunner(mix_stderr=False)
        .invoke(main, ["--now", str(NOW + 60), "approve", REF, "--signature", mallory], env=e)
        .stderr
    )


def test_plan_page__what_an_owner_sees_before_signing(env):
    e, plans = env
    sp = frozen_plan(REF)
    with running_console(e, now=NOW + 60) as c:
        browser = Client(c.url)
        status, _, page = browser.get(f"/plans/{REF}")
        assert status == 200
        assert "0x" + plan_hash(sp).hex() in page  # the plan hash the wallet signs
        assert "Sign with your wallet" in page
        assert "2027-01-15 12:00:00 UTC (3 h 59 min left)" in page  # the deadline, in UTC
        assert "0 of 2" in page and "multi_admin" in page
        assert "move 200,000.00 from L1 to L2 (allocateToLayer)" in page
        assert "12 bps (target 50, limit 200)" in page
        assert 'class="band"' in page and 'data-ratio-bps="7000"' in page
        # the typed data is exactly `keeper review PLAN --typed-data`
        cli = CliRunner(mix_stderr=False).invoke(
            main, ["--now", str(NOW + 60), "review", REF, "--typed-data"], env=e
        )
        status, _, served = browser.get(f"/plans/{REF}/typed-data")
        assert json.loads(served) == json.loads(cli.stdout)
        embedded = re.search(r'id="typed-data"[^>]*>(.*?)</script>', page, re.S)
        assert embedded and json.loads(embedded.group(1)) == json.loads(cli.stdout)
        assert_no_secret(page)


def test_keeper_console__the_process__serves_the_store_alone_and_stops_on_sigterm(env, tmp_path):
    """`keeper console` as an operator starts it: its address on the first line, pages from
    the store with no node and no deployment record, SIGTERM stops it (exit 0)."""
    import os
    import signal
    import subprocess
    import sys
    import urllib.request

    e, _ = env
    proc = subprocess.Popen(
        [sys.executable, "-m", "keepers.cli", "--now", str(NOW + 60), "console", "--port", "0"],
        env={**os.environ, **e},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("keeper console at http://127.0.0.1:"), line
        url = line.split()[3]
        with urllib.request.urlopen(url, timeout=30) as r:
            page = r.read().decode()
        assert REF in page and "0 of 2" in page
        assert_no_secret(page)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert_no_secret(out + err)


def test_behind_a_proxy__the_public_urls_origin_is_the_consoles_own(env):
    e, plans = env
    sig = "0x" + sign_plan(frozen_plan(REF), account_key("carol")).hex()
    # (http: with an https public URL the session cookie is Secure, and this client speaks
    # plain HTTP to the console, as the proxy would)
    public = {"KEEPER_CONSOLE_PUBLIC_URL": "http://console.example"}
    with running_console(e | public, now=NOW + 60) as c:
        browser = Client(c.url)
        _, _, page = browser.get(f"/plans/{REF}")
        headers = {"X-CSRF-Token": browser.csrf(page), "Origin": "http://console.example"}
        status, _, out = browser.post(
            f"/plans/{REF}/signature", json_body={"signature": sig}, headers=headers
        )
        assert status == 200, out
    assert [a.admin for a in plans.approvals(REF)] == [OWNERS[2]]


def test_big_body__413_at_once__declared_or_chunked__nothing_recorded(env):
    """A body over 64 KiB: refused by its Content-Length before it is read, or while a
    chunked one arrives; every answer, the framework's own included, with the headers."""
    import http.client

    e, plans = env
    with running_console(e, now=NOW + 60) as c:
        host, port = c.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        started = time.monotonic()
        conn.putrequest("POST", f"/plans/{REF}/signature")
        conn.putheader("Content-Type", "application/x-www-form-urlencoded")
        conn.putheader("Content-Length", str(10 * 1024 * 1024))
        conn.endheaders()  # the 10 MB never sent: the answer comes first
        r = conn.getresponse()
        assert r.status == 413 and time.monotonic() - started < 5
        assert r.getheader("X-Frame-Options") == "DENY"
        conn.close()
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        chunks = (b"signature=" + b"a" * 8192 for _ in range(20))  # 160 KiB, no length
        conn.request(
            "POST",
            f"/plans/{REF}/signature",
            body=chunks,
            headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": c.url},
            encode_chunked=True,
        )
        assert conn.getresponse().status == 413
        conn.close()
        # a foreign Host's 400 comes with the same headers
        status, headers, _ = Client(c.url, {"Host": "rebind.test"}).get("/approvals")
        assert status == 400 and headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin" and "Server" not in headers
    assert plans.approvals(REF) == []
