"""The hold fault hook (KEEPER_HOLD_AT) as `keeper run` arms it: only with
KEEPER_FAULT_INJECTION=1, and a stop (its release event) ends the hold at once."""

from __future__ import annotations

import threading
import time

from keepers.tx.pipeline import HoldHook


def test_hold_hook__armed_only__inert_without_fault_injection(tmp_path, monkeypatch):
    marker = tmp_path / "held"
    monkeypatch.setenv("KEEPER_HOLD_AT", "sent:1")
    monkeypatch.setenv("KEEPER_HOLD_FILE", str(marker))
    monkeypatch.delenv("KEEPER_FAULT_INJECTION", raising=False)
    HoldHook.from_env(armed_only=True)("sent")  # returns at once: not armed
    assert not marker.exists()


def test_hold_hook__release_set__hold_ends_at_once(tmp_path, monkeypatch):
    marker = tmp_path / "held"
    monkeypatch.setenv("KEEPER_HOLD_AT", "sent:1")
    monkeypatch.setenv("KEEPER_HOLD_FILE", str(marker))
    monkeypatch.setenv("KEEPER_HOLD_MAX_S", "60")
    monkeypatch.setenv("KEEPER_FAULT_INJECTION", "1")
    release = threading.Event()
    hook = HoldHook.from_env(release=release, armed_only=True)
    threading.Timer(0.3, release.set).start()
    started = time.monotonic()
    hook("sent")
    held = time.monotonic() - started
    assert marker.exists() and 0.25 <= held < 5.0, held
