"""The web console's settings (``keeper console``): where it listens, who may open it, where
its notifications go. Env names: ``KEEPER_CONSOLE_`` + the upper-cased field name.

Loopback (127.0.0.1) is the default and needs nothing more; any other address needs
KEEPER_CONSOLE_TOKEN (a bearer token, also accepted as the password of HTTP basic auth), and
the console refuses to start without it (exit 2, naming the setting)."""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from typing import Annotated

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from keepers.core.errors import ConfigError

TOKEN_MIN = 16
HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?|\[[0-9a-f:.]+\]")


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or the name localhost."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ConsoleSettings(BaseSettings):
    """``keeper console``: the approvers' and operators' web pages (keepers.console)."""

    model_config = SettingsConfigDict(
        env_prefix="KEEPER_CONSOLE_", extra="ignore", case_sensitive=False, frozen=True
    )

    # the address the console listens on: loopback unless KEEPER_CONSOLE_TOKEN is set
    host: str = Field(default="127.0.0.1", min_length=1)
    # its port (0: any free port, printed at start)
    port: Annotated[int, Field(ge=0, le=65535)] = 8090
    # required for any non-loopback host: a bearer token (or basic auth's password)
    token: SecretStr | None = None
    # the console's address as approvers reach it, for the links in notifications
    # (default http://HOST:PORT); its host is also allowed as the Host of a request
    public_url: str | None = None
    # host names (comma-separated) the console answers to besides its bound address (and
    # localhost on loopback): any other Host header gets 400, which stops DNS rebinding
    allowed_hosts: str = ""
    # the key that signs the session cookie (which holds the CSRF token); unset, a new one is
    # made at every start (sessions then end with the process)
    session_secret: SecretStr | None = None
    # `keeper run` serves the console too (sharing the fund bot's store, reader and lease)
    in_run: bool = False
    # the runbook page the alerts link to, each alert code an anchor of it (the docs site's
    # runbook/ page); unset, the page names docs/runbook.md and the anchor as text
    runbook_url: str | None = None
    # notifications: a JSON POST (Slack, Teams and Alertmanager webhook receivers accept it)
    # for a plan waiting for approval, near its deadline, and an executed plan's report
    webhook_url: SecretStr | None = None
    webhook_retries: Annotated[int, Field(ge=0, le=20)] = 3
    webhook_backoff_s: Annotated[float, Field(ge=0)] = 1.0
    webhook_timeout_s: Annotated[float, Field(gt=0)] = 5.0
    # a plan waiting for approval is "near its deadline" this many seconds before it
    near_deadline_s: Annotated[int, Field(gt=0)] = 1_800
    # the notifier reads the store this often
    notify_interval_s: Annotated[float, Field(gt=0)] = 15.0

    @model_validator(mode="after")
    def _exposed_needs_token(self) -> ConsoleSettings:
        token = self.token.get_secret_value() if self.token is not None else ""
        if self.token is not None and len(token) < TOKEN_MIN:
            raise ConfigError(f"KEEPER_CONSOLE_TOKEN: at least {TOKEN_MIN} characters")
        secret = self.session_secret.get_secret_value() if self.session_secret else ""
        if self.session_secret is not None and len(secret) < 32:
            raise ConfigError("KEEPER_CONSOLE_SESSION_SECRET: at least 32 characters")
        for name in self.host_names():
            if not HOST_NAME.fullmatch(name):
                raise ConfigError(
                    f"KEEPER_CONSOLE_ALLOWED_HOSTS={self.allowed_hosts!r}: {name!r} is not a "
                    "host name "
                    "(names or addresses, comma-separated, no port, no wildcard)"
                )
        if not is_loopback(self.host) and self.token is None:
            raise ConfigError(
                f"KEEPER_CONSOLE_HOST={self.host!r} is not a loopback address: set "
                "KEEPER_CONSOLE_TOKEN (a bearer token or basic auth password) to open the "
                "console beyond this machine"
            )
        every = self.host.strip().strip("[]") in ("0.0.0.0", "::")
        if every and not self.host_names() and not self.public_url:
            raise ConfigError(
                f"KEEPER_CONSOLE_HOST={self.host!r} listens on every address but answers only "
                "the host names it is given (a foreign Host gets 400): set "
                "KEEPER_CONSOLE_ALLOWED_HOSTS or KEEPER_CONSOLE_PUBLIC_URL"
            )
        return self

    def host_names(self) -> list[str]:
        return [x.strip().lower() for x in self.allowed_hosts.split(",") if x.strip()]

    def base_url(self, port: int | None = None) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{port if port is not None else self.port}"


def allowed_hosts(settings: ConsoleSettings, bound_host: str) -> list[str]:
    """The Host names the console answers to (Starlette's TrustedHostMiddleware compares the
    host part, without the port): the bound address, localhost and the loopback addresses
    when it is bound to loopback, KEEPER_CONSOLE_ALLOWED_HOSTS and the public URL's host.
    Bound to every address (0.0.0.0, ::), only the named ones: a request must name the
    console, never a name that an outsider's DNS points at it."""
    names: list[str] = []
    host = bound_host.strip().lower().strip("[]")
    if host not in ("0.0.0.0", "::", ""):
        names.append(f"[{host}]" if ":" in host else host)
    if is_loopback(bound_host):
        names += ["127.0.0.1", "localhost", "[::1]"]
    names += settings.host_names()
    if settings.public_url:
        public = urllib.parse.urlsplit(settings.public_url).hostname
        if public:
            names.append(f"[{public}]" if ":" in public else public)
    return sorted(set(names))
