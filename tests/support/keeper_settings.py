"""Keeper settings for the tests on a local chain: one SQLite file, one signer key, an audit
policy, the build's artifacts, quiet logs and fast retries and polls (the automation-keeper
tests and the fork rehearsals build on it), and audit roles written by hand as an operator
would (`allow`, `automation_policy`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from keepers.core.settings import KeeperSettings
from keepers.runtime.bots import selector

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".build" / "__local__.json"


def allow(contract: str, *signatures: str) -> list[dict[str, str]]:
    """Audit-policy entries allowing `signatures` on `contract`."""
    return [{"contract": contract, "selector": selector(s)} for s in signatures]


def automation_policy(addrs: dict[str, str]) -> dict[str, Any]:
    """The executor and supervisor roles over a deployment's automation addresses."""
    return {
        "roles": {
            "executor": {
                "allowed": allow(
                    addrs["scheduler"],
                    "executeBatch(uint256[])",
                    "execute(uint256)",
                    "withdrawCredit(address)",
                )
            },
            "supervisor": {
                "allowed": allow(addrs["paid_registry"], "fixReschedule(uint256)")
                + allow(addrs["supervisor"], "fixReschedule()", "tick(uint256)")
            },
        }
    }


def local_settings(
    db: Path, rpc_url: str, key: str, policy: dict[str, Any], **kw: Any
) -> KeeperSettings:
    base: dict[str, Any] = {
        "db_url": f"sqlite:///{db}",
        "rpc_url": rpc_url,
        "signer_key": key,
        "policy": policy,
        "artifacts_path": ARTIFACTS,
        "log_level": "WARNING",
        "retry_backoff_s": 0.05,
        "poll_interval_s": 0.02,
    }
    base.update(kw)
    return KeeperSettings(**base)
