"""Helpers of the automation-keeper tests (unique module name: no clash with other folders)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eth_utils import keccak

from keepers.core.settings import KeeperSettings

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".build" / "__local__.json"
SLOT = 60
BASE_FEE = 10**9  # wei per unit of effort: a 400k-effort Medium run prepays 2e15 x margin


def selector(signature: str) -> str:
    return "0x" + keccak(text=signature)[:4].hex()


def policy(addrs: dict[str, str]) -> dict[str, Any]:
    def allow(contract: str, *sigs: str) -> list[dict[str, str]]:
        return [{"contract": contract, "selector": selector(s)} for s in sigs]

    return {
        "roles": {
            "executor": {
                "allowed": allow(addrs["scheduler"], "executeBatch(uint256[])", "execute(uint256)")
            },
            "supervisor": {
                "allowed": allow(addrs["paid_registry"], "fixReschedule(uint256)")
                + allow(addrs["supervisor"], "fixReschedule()", "tick(uint256)")
            },
        }
    }


def make_settings(
    db: Path, rpc_url: str, key: str, addrs: dict[str, str], **kw: Any
) -> KeeperSettings:
    base: dict[str, Any] = {
        "db_url": f"sqlite:///{db}",
        "rpc_url": rpc_url,
        "signer_key": key,
        "policy": policy(addrs),
        "artifacts_path": ARTIFACTS,
        "log_level": "WARNING",
        "retry_backoff_s": 0.05,
        "poll_interval_s": 0.02,
    }
    base.update(kw)
    return KeeperSettings(**base)


def advance(chain, seconds: int) -> int:
    """Mine one block ``seconds`` after the pending timestamp; returns its timestamp."""
    chain.mine(1, timestamp=chain.pending_timestamp + seconds)
    return int(chain.blocks.head.timestamp)


def intents(store) -> list[Any]:
    from sqlalchemy import select

    from keepers.store.models import TxIntent

    with store.sessions() as s:
        return list(s.scalars(select(TxIntent).order_by(TxIntent.id)).all())
