"""structlog set-up: JSON lines in production, a readable console renderer for development."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog


def _redact_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Never log a secret: fields named like one are redacted, and every secret value from the
    environment is scrubbed from every string (exception text included)."""
    from keepers.core.settings import (
        REDACTED,
        env_secrets,
        is_secret_name,
        redact_key_tokens,
        scrub,
    )

    secrets = env_secrets()
    for k, v in list(event.items()):
        if is_secret_name(k):
            event[k] = REDACTED
        elif isinstance(v, str):
            event[k] = redact_key_tokens(scrub(v, secrets) if secrets else v)
    return event


class _CurrentStderr:
    """Whatever ``sys.stderr`` is when a line is written (not when logging was configured):
    the CLI's scrubbing wrapper (keepers.core.redact) and a caller's redirect see every log
    line, and a logger cached on first use never writes to a stream since replaced."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class _StdlibHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The root logger's handler set by `configure_logging` (one, replaced on each call)."""


def is_keeper_handler(handler: logging.Handler) -> bool:
    """Whether ``handler`` is the root handler `configure_logging` set (not a host's or a test
    runner's own): what a caller saving and restoring the process's logging keeps apart."""
    return isinstance(handler, _StdlibHandler)


def _route_stdlib(json: bool, level: str) -> None:
    """Send the standard library's log records (APScheduler's, web3's, urllib3's) through the
    same processors and renderer as the keeper's own lines: with KEEPER_LOG_JSON=1 every line
    on stderr is one JSON object (they were plain text, from logging's last-resort handler),
    with the level, the logger's name, the time and the secrets scrubbed."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _redact_secrets,
            renderer,
        ],
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if is_keeper_handler(h)]:
        root.removeHandler(old)
    handler = _StdlibHandler(_CurrentStderr())  # type: ignore[arg-type]
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level))


def configure_logging(json: bool = True, level: str = "INFO") -> None:
    """Configure structlog once per process (stderr, ISO timestamps, level, event, fields),
    and the standard library's logging to the same stream in the same format."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    _route_stdlib(json, level)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level)),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        # not cached: a logger follows the latest configuration (its level and stream), as a
        # process that configures again (a CLI invoked twice in one process) expects
        cache_logger_on_first_use=False,
    )


def read_only_level(level: str, verbose: bool) -> str:
    """The level a read-only command logs at: the configured one with ``--verbose``, else at
    least WARNING, so that `keeper status` or `keeper crosschain plan` prints what was asked
    (on stdout) and, on stderr, only what went wrong, not the start-up's info lines."""
    if verbose:
        return level
    return level if logging.getLevelName(level) >= logging.WARNING else "WARNING"


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]
