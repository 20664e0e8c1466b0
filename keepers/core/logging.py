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


def configure_logging(json: bool = True, level: str = "INFO") -> None:
    """Configure structlog once per process (stderr, ISO timestamps, level, event, fields)."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
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


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]
