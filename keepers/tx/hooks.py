"""Fault-injection hooks of the pipeline (keepers.tx.pipeline calls them after each step):
``KEEPER_CRASH_AT`` (exit the process at a step) and ``KEEPER_HOLD_AT`` (hold it there until
killed), read only with ``KEEPER_FAULT_INJECTION=1``. For the crash-safety tests and the
demo's kill scene; a production process ignores them and says so."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

from keepers.core.logging import get_logger

log = get_logger("keepers.pipeline")

# status -> step that moves it on (the crash points of KEEPER_CRASH_AT are these step names,
# plus "sent": right after eth_sendRawTransaction returned, before Broadcast commits)
STEP_OF = {
    "pending": "build",
    "built": "audit",
    "audited": "sign",
    "signed": "validate",
    "validated": "broadcast",
    "broadcast": "watch",
    "mined": "confirm",
}
CRASH_POINTS = frozenset(STEP_OF.values()) | {"sent"}


@dataclass
class CrashHook:
    """``KEEPER_CRASH_AT=<step>[:<n>]``: ``os._exit(137)`` right after the commit that
    recorded ``step`` for the n-th intent (n defaults to 1). "sent" fires after
    eth_sendRawTransaction returned, before that commit. A fault injector for the crash-safety
    tests: read only when ``KEEPER_FAULT_INJECTION=1`` is set too, so a production process never
    acts on a stray KEEPER_CRASH_AT (it logs that it ignores it)."""

    step: str | None = None
    nth: int = 1
    seen: int = 0

    @classmethod
    def from_env(cls) -> CrashHook:
        spec = os.environ.get("KEEPER_CRASH_AT", "").strip()
        if not spec:
            return cls()
        if os.environ.get("KEEPER_FAULT_INJECTION", "").strip() != "1":
            log.warning(
                "pipeline.crash_hook_ignored",
                KEEPER_CRASH_AT=spec,
                reason="test-only fault injector: set KEEPER_FAULT_INJECTION=1 to arm it",
            )
            return cls()
        step, _, nth = spec.partition(":")
        if step not in CRASH_POINTS:
            raise ValueError(
                f"KEEPER_CRASH_AT={spec!r}: step must be one of {sorted(CRASH_POINTS)}"
            )
        return cls(step, int(nth or 1))

    def __call__(self, step: str, intents: int = 1) -> None:
        if step != self.step:
            return
        self.seen += intents
        if self.seen >= self.nth:
            os._exit(137)


@dataclass
class HoldHook:
    """``KEEPER_HOLD_AT=<pipeline step>[:<n>]`` (e.g. ``sent:2``): at that crash point of the
    n-th intent the process writes ``KEEPER_HOLD_FILE`` and waits (up to
    ``KEEPER_HOLD_MAX_S``, 300 s) to be killed: a kill point a supervisor (the demo's kill
    scene, the crash tests) reaches for sure, with transactions in flight. Inert when unset.
    ``release``: an event that ends the wait early (``keeper run``'s stop: a SIGTERM test holds
    the keeper mid-plan, then stops it)."""

    step: str | None = None
    nth: int = 1
    path: str = ""
    max_s: float = 300.0
    seen: int = 0
    release: threading.Event | None = None

    @classmethod
    def from_env(
        cls, *, release: threading.Event | None = None, armed_only: bool = False
    ) -> HoldHook:
        """``armed_only``: like KEEPER_CRASH_AT, act only with KEEPER_FAULT_INJECTION=1."""
        spec = os.environ.get("KEEPER_HOLD_AT", "").strip()
        armed = os.environ.get("KEEPER_FAULT_INJECTION", "").strip() == "1"
        if not spec or (armed_only and not armed):
            return cls()
        step, _, nth = spec.partition(":")
        return cls(
            step,
            int(nth or 1),
            os.environ.get("KEEPER_HOLD_FILE", ""),
            float(os.environ.get("KEEPER_HOLD_MAX_S", "300")),
            release=release,
        )

    def __call__(self, step: str, intents: int = 1) -> None:
        if step != self.step:
            return
        self.seen += intents
        if self.seen != self.nth:
            return
        if self.path:
            with open(self.path, "w") as f:
                f.write(f"{step}:{self.nth} pid {os.getpid()}\n")
        deadline = time.monotonic() + self.max_s
        while time.monotonic() < deadline:
            if self.release is None:
                time.sleep(0.05)
            elif self.release.wait(0.05):
                return
