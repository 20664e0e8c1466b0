"""The console's HTTP request and response as values: parsed by the server (keepers.console.server,
which re-exports them) and built by the pages (keepers.console.operator, views), in a module
of their own so that the pages import no part of the server."""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Any  # email.message.Message-like: .get(name)
    body: bytes
    cookies: dict[str, str]

    @classmethod
    def parse(cls, method: str, target: str, headers: Any, body: bytes) -> Request:
        url = urllib.parse.urlsplit(target)
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(headers.get("Cookie") or "")
        except Exception:  # noqa: BLE001 - a malformed cookie header is no cookie
            jar = SimpleCookie()
        return cls(
            method,
            url.path or "/",
            urllib.parse.parse_qs(url.query),
            headers,
            body,
            {k: v.value for k, v in jar.items()},
        )

    def form(self) -> dict[str, str]:
        if (self.headers.get("Content-Type") or "").startswith("application/json"):
            try:
                data = json.loads(self.body or b"{}")
            except ValueError:
                return {}
            return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
        parsed = urllib.parse.parse_qs(self.body.decode("utf-8", "replace"))
        return {k: v[0] for k, v in parsed.items()}

    def wants_json(self) -> bool:
        return (self.headers.get("Content-Type") or "").startswith("application/json") or (
            "application/json" in (self.headers.get("Accept") or "")
        )
