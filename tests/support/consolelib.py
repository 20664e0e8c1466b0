"""The web console for tests: `running_console(env)` serves `keeper console`'s Console over real
HTTP on a free loopback port (its settings and the fund's read from ``env``, as the command
reads them), and `http` speaks to it with a cookie jar, as a browser would; `Receiver` is a
local webhook receiver for the console's notifications; `chromium` starts Debian's headless
Chromium under chromedriver for the page tests (`chromium_or_skip` first)."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

import pytest
from requests.structures import CaseInsensitiveDict

from keepers.cli_base import Ctx
from keepers.console.server import Console, serve
from keepers.console.settings import ConsoleSettings
from keepers.core.settings import load_settings
from tests.support.local_http import LocalHttp, QuietHandler


@dataclass
class Served:
    url: str
    console: Console
    ctx: Ctx


@contextmanager
def running_console(env: dict[str, str], now: int | None = None) -> Iterator[Served]:
    """The console of ``env`` (KEEPER_* and KEEPER_CONSOLE_*), listening on a free port;
    ``now`` fixes its clock (as `keeper --now`)."""
    with mock.patch.dict(os.environ, env):
        settings = load_settings(ConsoleSettings, env=env, port=0)
        ctx = Ctx(False, now)
        ctx.config()
        app = Console(settings, ctx)
        server = serve(app, settings.host, 0).start()
        try:
            yield Served(f"http://127.0.0.1:{server.port}", app, ctx)
        finally:
            server.stop()
            ctx.close()


class Client:
    """A cookie-keeping HTTP client that never follows redirects and never raises on 4xx; its
    POSTs carry the console's own ``Origin``, as a browser's do (``origin``: another, or None
    for none)."""

    def __init__(
        self, base: str, headers: dict[str, str] | None = None, origin: str | None = ""
    ) -> None:
        self.base = base
        self.origin = base if origin == "" else origin
        self.jar = http.cookiejar.CookieJar()
        self.headers = headers or {}

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a: Any, **k: Any) -> None:
                return None

        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect()
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        form: dict[str, str] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, str]:
        data = None
        hdrs = {**self.headers, **(headers or {})}
        if method == "POST" and self.origin is not None:
            hdrs.setdefault("Origin", self.origin)
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if json_body is not None:
            data = json.dumps(json_body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.base + path, data=data, headers=hdrs, method=method)
        try:
            with self.opener.open(req, timeout=30) as r:
                return r.status, CaseInsensitiveDict(r.headers), r.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, CaseInsensitiveDict(err.headers), err.read().decode()

    def get(self, path: str, **kw: Any) -> tuple[int, dict[str, str], str]:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> tuple[int, dict[str, str], str]:
        return self.request("POST", path, **kw)

    def propose_rebalance(self, by: str, reason: str) -> tuple[int, dict[str, str], str]:
        """The fund page's "Propose a manual rebalance" form sent as its page sends it (the
        page's CSRF token); the console's answer."""
        status, _, page = self.get("/fund")
        assert status == 200, page[-500:]
        return self.post("/rebalance", form={"by": by, "reason": reason, "csrf": self.csrf(page)})

    def sign_plan(self, ref: str, plan: Any, owners: tuple[str, ...], page: str) -> None:
        """Each of ``owners`` signs ``plan`` (a SignedPlan) with their local keystore's key
        and the signature is posted to the plan's page as its script posts it (JSON, the
        ``page``'s CSRF token in X-CSRF-Token); each recorded (200)."""
        from ballast_dev.local.keystores import account_key
        from keepers.fund.planning.plan_approval import sign_plan

        for who in owners:
            sig = "0x" + sign_plan(plan, account_key(who)).hex()
            status, _, out = self.post(
                f"/plans/{ref}/signature",
                json_body={"signature": sig},
                headers={"X-CSRF-Token": self.csrf(page)},
            )
            assert status == 200, out

    def csrf(self, page: str) -> str:
        """The CSRF token a page carries (its meta tag or a form's hidden field)."""
        m = re.search(r'name="csrf" (?:content|value)="([0-9a-f]{64})"', page) or re.search(
            r'name="csrf" type="hidden" value="([0-9a-f]{64})"', page
        )
        assert m, "no CSRF token on the page"
        return m.group(1)


import urllib.parse  # noqa: E402  (urlencode, after urllib.request)


class Receiver(LocalHttp):
    """A local webhook receiver on a free loopback port (``url``, at ``path``): records each
    JSON body POSTed to it (``bodies``); while ``down`` is above 0 it answers ``status`` instead
    (and counts ``down`` down), so a test makes the next N deliveries fail."""

    def __init__(self, path: str = "/hook", down: int = 0, status: int = 503) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.down = down
        outer = self

        class H(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if outer.down > 0:
                    outer.down -= 1
                    self.send_response(status)
                else:
                    outer.bodies.append(body)
                    self.send_response(200)
                self.end_headers()

        super().__init__(H)
        self.url += path


CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def chromium_or_skip() -> None:
    if os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER):
        return
    if os.environ.get("BALLAST_REQUIRE_CHROMIUM") == "1":
        pytest.fail("Chromium required (BALLAST_REQUIRE_CHROMIUM=1) but not installed")
    pytest.skip("chromium/chromium-driver not installed (apt-get install chromium chromium-driver)")


def chromium(*extra: str) -> Any:
    """Headless Chromium on a profile of its own (``driver.profile_dir``: the caller removes it
    after ``driver.quit()``), ``extra`` command-line switches added."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="ballast-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1200,1600",
        f"--user-data-dir={profile}",
        *extra,
    ):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    driver.profile_dir = profile
    return driver
