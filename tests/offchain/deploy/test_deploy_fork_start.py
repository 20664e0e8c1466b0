"""scripts/deploy.py's dry run gives the fork's anvil FORK_START_TIMEOUT_S to answer instead of
ape's fixed 20 s (a CI run under load timed out starting it), only for the fork provider, and
patching twice changes nothing."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

from ape_foundry.provider import FoundryForkProvider, FoundryProvider

ROOT = Path(__file__).resolve().parents[3]


def test_patient_fork_start__fork_provider_waits_longer__local_one_untouched__idempotent():
    spec = importlib.util.spec_from_file_location("deploy_script", ROOT / "scripts" / "deploy.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    original = FoundryForkProvider.start
    try:
        mod._patient_fork_start()
        patched = FoundryForkProvider.start
        mod._patient_fork_start()
        assert FoundryForkProvider.start is patched  # once
        wait = inspect.signature(patched).parameters["timeout"].default
        assert wait == mod.FORK_START_TIMEOUT_S == 90
        assert inspect.signature(FoundryProvider.start).parameters["timeout"].default == 20
    finally:
        FoundryForkProvider.start = original
