"""The deployed local fund (``fund``/``fresh``, tests/support/fixtures_fund.py) plus the
automation contracts (``auto``/``make_paid``, tests/support/fixtures_automation.py) on ape's
anvil, and the environment that `keeper run` reads for them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.keeper_settings import automation_policy

ROOT = Path(__file__).resolve().parents[3]
UNIT = 10**6


@pytest.fixture
def auto(fresh: Any, auto: dict[str, Any]) -> dict[str, Any]:
    """The shared automation fixture, deployed after the fund's snapshot (``fresh``), so the
    test's restore removes it."""
    return auto


@pytest.fixture
def policy_file(auto: dict[str, Any], tmp_path: Path) -> Path:
    """KEEPER_POLICY_FILE: the executor and supervisor roles written by hand, as operators did
    before the bots declared their calls (the same calls the declarations give)."""
    data = automation_policy(auto["addresses"])
    p = tmp_path / "policy.json"
    p.write_text(json.dumps(data))
    return p


@pytest.fixture
def env(
    chain: Any,
    accounts: Any,
    auto: dict[str, Any],
    deployment_file: Path,
    tmp_path: Path,
) -> dict[str, str]:
    """Everything `keeper run` needs for all three bots. No KEEPER_POLICY*: the audit roles
    are built from the calls each bot declares (keepers.runtime.bots)."""
    a = auto["addresses"]
    return {
        # shared: node, store, signer, artifacts, logs
        "KEEPER_RPC_URL": chain.provider.uri,
        "KEEPER_DB_URL": f"sqlite:///{tmp_path}/keeper.db",
        "KEEPER_SIGNER_KEY": accounts[2].private_key,
        "KEEPER_ARTIFACTS_PATH": str(ROOT / ".build/__local__.json"),
        "KEEPER_LOG_LEVEL": "WARNING",
        "KEEPER_RETRY_BACKOFF_S": "0.05",
        # fund bot
        "KEEPER_DEPLOYMENT": str(deployment_file),
        "KEEPER_CHAIN_ID": str(chain.chain_id),
        "KEEPER_NATIVE_PRICE": "0",
        "REBALANCE_ADMINS": "alice,bob,carol",
        # executor
        "KEEPER_EXECUTOR_SCHEDULER": a["scheduler"],
        "KEEPER_EXECUTOR_DUE_SCAN_EVERY_S": "0",
        # supervisor
        "KEEPER_SUPERVISOR_SCHEDULER": a["scheduler"],
        "KEEPER_SUPERVISOR_REGISTRY": a["paid_registry"],
    }
