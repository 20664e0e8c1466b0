"""The console's HTTP server: the standard library's threading server, one lock around the
keeper's context (requests are served one at a time: a console has a handful of readers),
and the security rules of the feature:

- it listens on 127.0.0.1 unless KEEPER_CONSOLE_TOKEN is set (keepers.console.settings);
  with a token every request needs it: ``Authorization: Bearer TOKEN``, basic auth with the
  token as password, or the session cookie that ``/login`` sets (an HMAC of the token, never
  the token itself);
- every POST carries the CSRF token (double submit: an HttpOnly SameSite=Strict cookie and
  the same value in the form or the ``X-CSRF-Token`` header), and a cross-origin ``Origin``
  is refused;
- every page has a Content-Security-Policy with a fresh nonce: only the console's own inline
  script runs, and it can only talk to the console;
- a signature goes to the same intake as ``keeper approve --signature``
  (keepers.fund.cli.record_signature): the same refusals, the same normalisation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from keepers.console import views
from keepers.console.html import h, page, tag
from keepers.console.messages import Request, Response  # noqa: F401 - re-exported
from keepers.console.settings import ConsoleSettings
from keepers.core.errors import DomainError
from keepers.core.logging import get_logger

log = get_logger("keepers.console")

CSRF_COOKIE = "ballast_csrf"
SESSION_COOKIE = "ballast_session"
REF = re.compile(r"^[A-Za-z0-9._-]{1,80}$")
MAX_BODY = 64 * 1024


class Console:
    """The console's request handling, independent of the socket (the tests call `handle`)."""

    def __init__(self, settings: ConsoleSettings, ctx: Any) -> None:
        self.settings = settings
        self.ctx = ctx
        self.lock = threading.RLock()
        self.requests: Counter[str] = Counter()  # path -> requests served
        self.render_s: dict[str, float] = {}  # path -> the last render's seconds
        token = settings.token.get_secret_value() if settings.token is not None else None
        self._token = token
        self._session = (
            hmac.new(token.encode(), b"ballast-console-session", hashlib.sha256).hexdigest()
            if token
            else None
        )

    # ------------------------------------------------------------------ entry

    def handle(self, req: Request) -> Response:
        with self.lock:
            self.requests[req.path] += 1
            started = time.perf_counter()
            csrf = req.cookies.get(CSRF_COOKIE) or ""
            new_csrf = None
            if not re.fullmatch(r"[0-9a-f]{64}", csrf):
                csrf = new_csrf = secrets.token_hex(32)
            nonce = secrets.token_urlsafe(18)
            try:
                resp = self._route(req, csrf, nonce)
            except SystemExit:  # a context helper gave up (bad deployment record): no page
                resp = self._error(
                    500, "the keeper's configuration is unusable: see the log", nonce
                )
            except Exception as err:  # noqa: BLE001 - one page fails, the console stays up
                log.error("console.error", path=req.path, error=type(err).__name__)
                resp = self._error(500, f"internal error ({type(err).__name__})", nonce)
            if new_csrf is not None:
                resp.cookies.append(f"{CSRF_COOKIE}={new_csrf}; Path=/; HttpOnly; SameSite=Strict")
            resp.headers.setdefault(
                "Content-Security-Policy",
                f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
                "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
                "base-uri 'none'; frame-ancestors 'none'",
            )
            resp.headers.setdefault("X-Content-Type-Options", "nosniff")
            resp.headers.setdefault("Referrer-Policy", "no-referrer")
            resp.headers.setdefault("Cache-Control", "no-store")
            self.render_s[req.path] = time.perf_counter() - started
            return resp

    def _route(self, req: Request, csrf: str, nonce: str) -> Response:
        if not self._authorised(req):
            if req.path == "/login":
                return self._login(req, csrf, nonce)
            return self._unauthorised(req, csrf, nonce)
        if req.method == "POST":
            refused = self._csrf_refusal(req)
            if refused is not None:
                return self.refuse(req, 403, refused, nonce)
        ctx = self.ctx
        if not ctx.has_bot():  # the node may answer again: ask anew (keeper status's rule)
            ctx.offline = None
        now = ctx.time()
        parts = [p for p in req.path.split("/") if p]
        if req.method == "GET":
            if not parts:
                return Response(303, b"", headers={"Location": "/approvals"})
            if parts == ["approvals"]:
                return self._html(200, views.approvals_page(ctx, now, nonce))
            if parts == ["plans"]:
                return self._html(200, views.plans_page(ctx, nonce))
            if parts == ["fund"]:
                from keepers.console import operator

                return self._html(200, operator.fund_page(ctx, self.settings, now, nonce, csrf))
            if parts == ["login"]:
                return Response(303, b"", headers={"Location": "/approvals"})
            if len(parts) == 2 and parts[0] == "plans" and REF.match(parts[1]):
                status, html = views.plan_page(ctx, parts[1], now, nonce, csrf)
                return self._html(status, html)
            if len(parts) == 3 and parts[0] == "plans" and parts[2] == "typed-data":
                return self._typed_data(parts[1])
        if req.method == "POST":
            if len(parts) == 3 and parts[0] == "plans" and parts[2] == "signature":
                return self._signature(req, parts[1], now, nonce, csrf)
            if parts == ["rebalance"]:
                from keepers.console import operator

                return operator.rebalance(self, req, now, nonce, csrf)
        return self._error(404, f"no page {req.path}", nonce)

    # ------------------------------------------------------------------ security

    def _authorised(self, req: Request) -> bool:
        if self._token is None:
            return True
        auth = req.headers.get("Authorization") or ""
        if auth.startswith("Bearer "):
            return hmac.compare_digest(auth[7:].strip().encode(), self._token.encode())
        if auth.startswith("Basic "):
            try:
                _, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                return False
            return hmac.compare_digest(password.encode(), self._token.encode())
        session = req.cookies.get(SESSION_COOKIE) or ""
        assert self._session is not None
        return hmac.compare_digest(session.encode(), self._session.encode())

    def _unauthorised(self, req: Request, csrf: str, nonce: str) -> Response:
        if req.method != "GET" or req.wants_json():
            return Response(
                401,
                json.dumps({"error": "KEEPER_CONSOLE_TOKEN required"}).encode(),
                "application/json",
                {"WWW-Authenticate": 'Bearer realm="ballast-console"'},
            )
        return self._login_form(401, csrf, nonce, req.path, None)

    def _login_form(
        self, status: int, csrf: str, nonce: str, nxt: str, error: str | None
    ) -> Response:
        form = tag(
            "form",
            tag("input", type="hidden", name="csrf", value=csrf),
            tag("input", type="hidden", name="next", value=nxt),
            tag("label", "Console token", tag("input", type="password", name="token", id="token")),
            tag("input", type="submit", value="Open the console", id="login-submit"),
            method="post",
            action="/login",
            id="login",
        )
        flash = (False, error) if error else None
        return self._html(
            status,
            page("Sign in", tag("section", form), nonce, flash=flash),
            headers={"WWW-Authenticate": 'Bearer realm="ballast-console"'},
        )

    def _login(self, req: Request, csrf: str, nonce: str) -> Response:
        if req.method != "POST":
            return self._login_form(401, csrf, nonce, "/approvals", None)
        refused = self._csrf_refusal(req)
        if refused is not None:
            return self.refuse(req, 403, refused, nonce)
        data = req.form()
        nxt = data.get("next") or "/approvals"
        if not nxt.startswith("/") or nxt.startswith("//"):
            nxt = "/approvals"
        assert self._token is not None and self._session is not None
        if not hmac.compare_digest(data.get("token", "").encode(), self._token.encode()):
            return self._login_form(401, csrf, nonce, nxt, "wrong token")
        return Response(
            303,
            b"",
            headers={"Location": nxt},
            cookies=[f"{SESSION_COOKIE}={self._session}; Path=/; HttpOnly; SameSite=Strict"],
        )

    def _csrf_refusal(self, req: Request) -> str | None:
        """Why a POST is refused as a possible cross-site request, or None."""
        origin = req.headers.get("Origin")
        # this console as the browser addressed it (Host), or as KEEPER_CONSOLE_PUBLIC_URL
        # names it behind a reverse proxy that rewrites Host
        ours = {req.headers.get("Host") or ""}
        if self.settings.public_url:
            ours.add(urllib.parse.urlsplit(self.settings.public_url).netloc)
        if origin and origin != "null" and urllib.parse.urlsplit(origin).netloc not in ours:
            return f"cross-origin request refused (Origin {origin})"
        cookie = req.cookies.get(CSRF_COOKIE) or ""
        sent = req.headers.get("X-CSRF-Token") or req.form().get("csrf") or ""
        if not cookie or not hmac.compare_digest(cookie.encode(), sent.encode()):
            return "CSRF token missing or wrong: reload the page and try again"
        return None

    # ------------------------------------------------------------------ plans

    def _typed_data(self, ref: str) -> Response:
        from keepers.fund.planning.plan_approval import typed_data_json

        plans = self.ctx.records().plans
        row = plans.find(ref) if REF.match(ref) else None
        if row is None:
            return self.json_response(404, {"error": f"no plan {ref!r}"})
        try:
            plan = plans.signed_plan(row.ref)
        except DomainError as err:
            return self.json_response(409, {"error": str(err)})
        if plan is None:
            return self.json_response(409, {"error": f"plan {row.ref} has no frozen plan to sign"})
        return self.json_response(200, typed_data_json(plan))

    def _signature(self, req: Request, ref: str, now: int, nonce: str, csrf: str) -> Response:
        """A signature from the page (the wallet's, or one pasted): `keeper approve
        --signature`'s intake."""
        from keepers.fund.cli import record_signature

        plans = self.ctx.records().plans
        row = plans.find(ref) if REF.match(ref) else None
        if row is None:
            return self.refuse(req, 404, f"no plan {ref!r}", nonce)
        data = req.form()
        signature = data.get("signature", "").strip()
        note = data.get("note", "").strip()[:200]
        try:
            d = record_signature(self.ctx, row.ref, signature, now, note)
        except (ValueError, DomainError) as err:
            log.warning("console.signature_refused", plan=row.ref, reason=str(err))
            if req.wants_json():
                return self.json_response(409, {"error": str(err)})
            status, html = views.plan_page(
                self.ctx, row.ref, now, nonce, csrf, flash=(False, f"refused: {err}")
            )
            return self._html(409, html)
        log.info("console.signature_recorded", plan=row.ref, signer=d["signer"])
        out = {
            "plan": d["plan"],
            "signer": d["signer"],
            "approvals": d["approvals"],
            "required": d["required"],
            "plan_hash": d["plan_hash"],
        }
        if req.wants_json():
            return self.json_response(200, out)
        status, html = views.plan_page(
            self.ctx,
            row.ref,
            now,
            nonce,
            csrf,
            flash=(
                True,
                f"recorded: signed by {d['signer']} ({d['approvals']} of {d['required']})",
            ),
        )
        return self._html(status, html)

    # ------------------------------------------------------------------ responses

    def refuse(self, req: Request, status: int, why: str, nonce: str) -> Response:
        if req.wants_json():
            return self.json_response(status, {"error": why})
        return self._error(status, why, nonce)

    def _error(self, status: int, why: str, nonce: str) -> Response:
        return self._html(status, page(f"Error {status}", tag("p", why, id="error"), nonce))

    @staticmethod
    def _html(status: int, html: str, headers: dict[str, str] | None = None) -> Response:
        return Response(status, html.encode(), headers=dict(headers or {}))

    @staticmethod
    def json_response(status: int, data: Any) -> Response:
        return Response(status, json.dumps(data).encode(), "application/json")


class _Handler(BaseHTTPRequestHandler):
    console: Console  # set on the subclass `serve` makes
    server_version = "ballast-console"
    sys_version = ""

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length) if length else b""
        resp = self.console.handle(Request.parse(method, self.path, self.headers, body))
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        for k, v in resp.headers.items():
            self.send_header(k, v)
        for c in resp.cookies:
            self.send_header("Set-Cookie", c)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(resp.body)

    def do_GET(self) -> None:  # noqa: N802 - the standard library's names
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("console.request", line=format % args)


def serve(console: Console, host: str, port: int) -> ThreadingHTTPServer:
    """The console's server bound to host:port (not yet serving: call serve_forever)."""
    handler = type("ConsoleHandler", (_Handler,), {"console": console})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


__all__ = ["Console", "Request", "Response", "h", "serve"]
