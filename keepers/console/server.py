"""The console's web server: a Starlette application served by uvicorn (docs/operator/console.md,
"How it is served"). The framework owns what a hand-written server got wrong:

- **hosts**: Starlette's TrustedHostMiddleware answers 400 to any ``Host`` but the bound
  address, the names in KEEPER_CONSOLE_ALLOWED_HOSTS and the public URL's host, so a page on a
  name that resolves to 127.0.0.1 (DNS rebinding) reads nothing and posts nothing;
- **sessions**: Starlette's SessionMiddleware, a cookie signed by itsdangerous with a server
  secret (KEEPER_CONSOLE_SESSION_SECRET, else made at start), HttpOnly, SameSite=Strict. The
  CSRF token lives *in* the session: a page on another port of the same host can set a cookie
  of the same name (cookies are per host, not per port) but not one this server signed;
- **the server's concurrency**: uvicorn's event loop accepts every connection (a listen backlog
  of 2048, not the standard library's 5); the pages are rendered in Starlette's thread pool,
  one at a time under ``Console.lock`` (the keeper's context is not thread-safe), so a burst
  waits its turn and is answered.

The application adds the rest of the feature's rules:

- it listens on 127.0.0.1 unless KEEPER_CONSOLE_TOKEN is set (keepers.console.settings); with a
  token every request needs it: ``Authorization: Bearer TOKEN``, basic auth with the token as
  password, or the session ``/login`` marks as signed in (a digest of the token, never the
  token itself);
- every POST needs its ``Origin`` to be the console's own (a missing Origin and ``Origin:
  null`` are refused), a ``Sec-Fetch-Site`` of ``same-origin`` when the browser sends one, and
  the session's CSRF token in the form or the ``X-CSRF-Token`` header;
- a body over 64 KiB gets 413 before it is read;
- every page has a Content-Security-Policy with a fresh nonce: only the console's own inline
  script runs, and it can only talk to the console; the other headers are the usual set
  (nosniff, frame-ancestors/X-Frame-Options, a same-origin referrer and opener policy);
- a signature goes to the same intake as ``keeper approve --signature``
  (keepers.fund.service.record_signature): the same refusals, the same normalisation.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import re
import secrets
import socket
import threading
import time
import urllib.parse
from collections import Counter
from typing import Any

from keepers.console import views
from keepers.console.html import h, page, post_form, tag
from keepers.console.messages import Request, Response  # noqa: F401 - re-exported
from keepers.console.settings import ConsoleSettings, allowed_hosts
from keepers.core.errors import DomainError
from keepers.core.logging import get_logger
from keepers.fund import service

log = get_logger("keepers.console")

SESSION_COOKIE = "ballast_session"
SESSION_MAX_AGE_S = 12 * 3_600
REF = re.compile(r"^[A-Za-z0-9._-]{1,80}$")
CSRF = re.compile(r"[0-9a-f]{64}")
MAX_BODY = 64 * 1024
BACKLOG = 2_048

# on every answer, the framework's own included (400 for a foreign Host, 413, 405)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # same-origin: the console's own POSTs carry their real Origin (under no-referrer a browser
    # sends `Origin: null` even on a same-origin form, which is why null had to be let through)
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class Console:
    """The console's request handling, independent of the socket: ``handle(request,
    session)`` is called by the Starlette application (:meth:`app`) in its thread pool.

    ``embedded``: served by `keeper run` on the running keeper's fund bot (its context shares
    that bot and store), whose lease a manual rebalance is decided under; otherwise (`keeper
    console`) the rebalance takes a lease of its own for the decision, as `keeper plan` does
    (keepers.console.operator.rebalance)."""

    def __init__(self, settings: ConsoleSettings, ctx: Any, *, embedded: bool = False) -> None:
        self.settings = settings
        self.ctx = ctx
        self.embedded = embedded
        self.lock = threading.RLock()
        self.requests: Counter[str] = Counter()  # path -> requests served
        self.render_s: dict[str, float] = {}  # path -> the last render's seconds
        token = settings.token.get_secret_value() if settings.token is not None else None
        self._token = token
        # what a signed-in session holds: a digest of the token (a new token ends old sessions)
        self._signed_in = (
            hmac.new(token.encode(), b"ballast-console-session", hashlib.sha256).hexdigest()[:32]
            if token
            else None
        )
        secret = settings.session_secret
        self.secret = secret.get_secret_value() if secret is not None else secrets.token_hex(32)

    # ------------------------------------------------------------------ the application

    def app(self, bound_host: str) -> Any:
        """The Starlette application: body limit and security headers, the host allow-list,
        the signed session, then one route to :meth:`handle`."""
        from starlette.applications import Starlette
        from starlette.concurrency import run_in_threadpool
        from starlette.middleware import Middleware
        from starlette.middleware.sessions import SessionMiddleware
        from starlette.middleware.trustedhost import TrustedHostMiddleware
        from starlette.requests import Request as StarletteRequest
        from starlette.responses import Response as StarletteResponse
        from starlette.routing import Route

        async def endpoint(request: StarletteRequest) -> StarletteResponse:
            body = await request.body()
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            req = Request.parse(request.method, target, request.headers, body)
            resp = await run_in_threadpool(self.handle, req, request.session)
            out = StarletteResponse(resp.body, resp.status, media_type=resp.content_type)
            for k, v in resp.headers.items():
                out.headers[k] = v
            return out

        public = self.settings.public_url or ""
        return Starlette(
            routes=[Route("/{path:path}", endpoint, methods=["GET", "HEAD", "POST"])],
            middleware=[
                Middleware(_Guard),
                Middleware(
                    TrustedHostMiddleware,
                    allowed_hosts=allowed_hosts(self.settings, bound_host),
                    www_redirect=False,
                ),
                Middleware(
                    SessionMiddleware,
                    secret_key=self.secret,
                    session_cookie=SESSION_COOKIE,
                    max_age=SESSION_MAX_AGE_S,
                    same_site="strict",
                    https_only=public.startswith("https://"),
                ),
            ],
        )

    # ------------------------------------------------------------------ entry

    def handle(self, req: Request, session: dict[str, Any] | None = None) -> Response:
        session = {} if session is None else session
        if not session and _arrived_from_elsewhere(req):
            return _reload_here()
        with self.lock:
            self.requests[req.path] += 1
            started = time.perf_counter()
            csrf = session.get("csrf")
            if not isinstance(csrf, str) or not CSRF.fullmatch(csrf):
                csrf = session["csrf"] = secrets.token_hex(32)
            nonce = secrets.token_urlsafe(18)
            try:
                resp = self._route(req, session, csrf, nonce)
            except SystemExit:  # a context helper gave up (bad deployment record): no page
                resp = self._error(
                    500, "the keeper's configuration is unusable: see the log", nonce
                )
            except Exception as err:  # noqa: BLE001 - one page fails, the console stays up
                log.error("console.error", path=req.path, error=type(err).__name__)
                resp = self._error(500, f"internal error ({type(err).__name__})", nonce)
            resp.headers.setdefault(
                "Content-Security-Policy",
                f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
                "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
                "base-uri 'none'; frame-ancestors 'none'",
            )
            self.render_s[req.path] = time.perf_counter() - started
            return resp

    def _route(self, req: Request, session: dict[str, Any], csrf: str, nonce: str) -> Response:
        if not self._authorised(req, session):
            if req.path == "/login":
                return self._login(req, session, csrf, nonce)
            return self._unauthorised(req, csrf, nonce)
        if req.method == "POST":
            refused = self._csrf_refusal(req, csrf)
            if refused is not None:
                log.warning("console.post_refused", path=req.path, reason=refused)
                return self.refuse(req, 403, refused, nonce)
        ctx = self.ctx
        if not self.embedded and not ctx.has_bot():
            ctx.offline = None  # the node may answer again: ask anew (keeper status's rule)
        now = ctx.time()
        parts = [p for p in req.path.split("/") if p]
        if req.method in ("GET", "HEAD"):
            if not parts:
                return Response(303, b"", headers={"Location": "/approvals"})
            if parts == ["approvals"]:
                return self._html(200, views.approvals_page(ctx, now, nonce))
            if parts == ["plans"]:
                return self._html(200, views.plans_page(ctx, nonce))
            if parts == ["fund"]:
                from keepers.console import operator

                base = req.query.get("units", [""])[0] == "base"
                html = operator.fund_page(ctx, self.settings, now, nonce, csrf, base)
                return self._html(200, html)
            if parts == ["login"]:
                return Response(303, b"", headers={"Location": "/approvals"})
            if len(parts) == 2 and parts[0] == "plans" and REF.match(parts[1]):
                units = req.query.get("units", [""])[0] == "base"
                status, html = views.plan_page(
                    ctx, parts[1], now, nonce, csrf, base_units_asked=units
                )
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

    def _authorised(self, req: Request, session: dict[str, Any]) -> bool:
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
        signed_in = session.get("signed_in")
        assert self._signed_in is not None
        return isinstance(signed_in, str) and hmac.compare_digest(
            signed_in.encode(), self._signed_in.encode()
        )

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
        form = post_form(
            "/login",
            csrf,
            tag("input", type="hidden", name="next", value=nxt),
            tag("label", "Console token", tag("input", type="password", name="token", id="token")),
            tag("input", type="submit", value="Open the console", id="login-submit"),
            id="login",
        )
        flash = (False, error) if error else None
        return self._html(
            status,
            page("Sign in", tag("section", form), nonce, flash=flash),
            headers={"WWW-Authenticate": 'Bearer realm="ballast-console"'},
        )

    def _login(self, req: Request, session: dict[str, Any], csrf: str, nonce: str) -> Response:
        if req.method != "POST":
            return self._login_form(401, csrf, nonce, "/approvals", None)
        refused = self._csrf_refusal(req, csrf)
        if refused is not None:
            return self.refuse(req, 403, refused, nonce)
        data = req.form()
        nxt = data.get("next") or "/approvals"
        if not nxt.startswith("/") or nxt.startswith("//"):
            nxt = "/approvals"
        assert self._token is not None and self._signed_in is not None
        if not hmac.compare_digest(data.get("token", "").encode(), self._token.encode()):
            return self._login_form(401, csrf, nonce, nxt, "wrong token")
        # a new session on sign-in: a token planted before it (session fixation) is gone
        session.clear()
        session["signed_in"] = self._signed_in
        session["csrf"] = secrets.token_hex(32)
        return Response(303, b"", headers={"Location": nxt})

    def _ours(self, req: Request) -> set[str]:
        """This console's origins' host:port as the browser addressed it (Host, which the
        host allow-list has checked) and as KEEPER_CONSOLE_PUBLIC_URL names it (a reverse
        proxy that rewrites Host)."""
        ours = {req.headers.get("Host") or ""}
        if self.settings.public_url:
            ours.add(urllib.parse.urlsplit(self.settings.public_url).netloc)
        return ours

    def _csrf_refusal(self, req: Request, csrf: str) -> str | None:
        """Why a POST is refused as a possible cross-site request, or None."""
        site = req.headers.get("Sec-Fetch-Site")
        if site is not None and site != "same-origin":
            return f"cross-site request refused (Sec-Fetch-Site {site})"
        origin = req.headers.get("Origin")
        if not origin:
            return "a POST without an Origin header is refused (send the console's own origin)"
        if origin == "null":
            return "a POST from an opaque origin (Origin: null) is refused"
        if urllib.parse.urlsplit(origin).netloc not in self._ours(req):
            return f"cross-origin request refused (Origin {origin})"
        sent = req.headers.get("X-CSRF-Token") or req.form().get("csrf") or ""
        if not hmac.compare_digest(csrf.encode(), sent.encode()):
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
        plans = self.ctx.records().plans
        row = plans.find(ref) if REF.match(ref) else None
        if row is None:
            return self.refuse(req, 404, f"no plan {ref!r}", nonce)
        # the plan's page, with flash= what became of the signature
        plan_page = functools.partial(views.plan_page, self.ctx, row.ref, now, nonce, csrf)
        data = req.form()
        signature = data.get("signature", "").strip()
        note = data.get("note", "").strip()[:200]
        try:
            d = service.record_signature(self.ctx, row.ref, signature, now, note)
        except (ValueError, DomainError) as err:
            log.warning("console.signature_refused", plan=row.ref, reason=str(err))
            if req.wants_json():  # the command line's words, and the page's
                return self.json_response(
                    409, {"error": str(err), "why": views.refusal_text(str(err))}
                )
            _, html = plan_page(flash=(False, "refused: " + views.refusal_text(str(err))))
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
        status, html = plan_page(
            flash=(True, f"recorded: signed by {d['signer']} ({d['approvals']} of {d['required']})")
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


def _arrived_from_elsewhere(req: Request) -> bool:
    """A top-level GET navigation from another site (a link in a notification): the browser
    withholds the SameSite=Strict session cookie on it, so the request looks signed out."""
    return (
        req.method == "GET"
        and req.headers.get("Sec-Fetch-Site") == "cross-site"
        and req.headers.get("Sec-Fetch-Mode") == "navigate"
    )


def _reload_here() -> Response:
    """The page asks for itself again, now from this origin, so the browser sends the session
    cookie (and this answer sets none: the signed-in session is kept, not replaced)."""
    html = (
        '<!doctype html><html lang=en><head><meta charset=utf-8><meta http-equiv="refresh" '
        'content="0"><title>Ballast console</title></head><body><p>Opening the console... '
        '<a href="">continue</a></p></body></html>'
    )
    return Response(
        200,
        html.encode(),
        headers={
            "Content-Security-Policy": "default-src 'none'; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'"
        },
    )


class _Guard:
    """The outermost layer (pure ASGI): the security headers on every answer, and 413 for a
    body over MAX_BODY, told by its Content-Length before anything is read, or counted while
    a chunked one arrives."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from starlette.datastructures import MutableHeaders
        from starlette.responses import PlainTextResponse

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for k, v in SECURITY_HEADERS.items():
                    headers.setdefault(k, v)
            await send(message)

        too_big = PlainTextResponse("request body too large", status_code=413)
        length = dict(scope["headers"]).get(b"content-length")
        try:
            declared = int(length) if length is not None else 0
        except ValueError:
            declared = MAX_BODY + 1
        if declared > MAX_BODY:
            await too_big(scope, receive, send_with_headers)
            return
        seen = 0

        async def counted() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > MAX_BODY:
                    raise _TooBig
            return message

        try:
            await self.app(scope, counted, send_with_headers)
        except _TooBig:
            await too_big(scope, receive, send_with_headers)


class _TooBig(Exception):
    pass


class ConsoleServer:
    """The console served by uvicorn on a socket bound at construction (so a bad address or a
    port in use fails at once, in the caller: exit 2), in a thread of its own: ``start()``,
    ``port``, ``stop()``. The thread keeps uvicorn away from the process's signal handlers
    (the command, or `keeper run`, owns them)."""

    def __init__(self, console: Console, host: str, port: int) -> None:
        import uvicorn

        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host.strip("[]"), port))
            sock.listen(BACKLOG)
        except OSError:
            sock.close()
            raise
        self.sock = sock
        self.host = host
        self.port = int(sock.getsockname()[1])
        self.console = console
        config = uvicorn.Config(
            console.app(host),
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            proxy_headers=False,
            backlog=BACKLOG,
            timeout_keep_alive=5,
            timeout_graceful_shutdown=5,
        )
        self.server = uvicorn.Server(config)
        self.thread: threading.Thread | None = None

    def start(self, timeout_s: float = 30.0) -> ConsoleServer:
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, name="console", daemon=True
        )
        self.thread.start()
        end = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > end:
                raise OSError("the console's server did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout_s)
        self.sock.close()


def serve(console: Console, host: str, port: int) -> ConsoleServer:
    """The console's server bound to host:port (not yet serving: call ``start``)."""
    return ConsoleServer(console, host, port)


__all__ = ["Console", "ConsoleServer", "Request", "Response", "h", "serve"]
