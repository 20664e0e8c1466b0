"""Helpers of the fork rehearsals (a uniquely named module: `conftest` is not): keeper settings
pointed at the fork's RPC, with each keeper's SQLite store in a tmp dir."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eth_utils import keccak

from keepers.core.settings import KeeperSettings

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".build" / "__local__.json"
DEPLOYMENT = ROOT / "scripts" / "deployments" / "ethereum-upstream.json"


def selector(signature: str) -> str:
    return "0x" + keccak(text=signature)[:4].hex()


def allow(contract: str, *signatures: str) -> list[dict[str, str]]:
    return [{"contract": contract, "selector": selector(s)} for s in signatures]


def settings(
    db: Path, rpc_url: str, key: str, roles: dict[str, list[dict[str, str]]], **kw: Any
) -> KeeperSettings:
    """Pipeline settings: one SQLite file, one signer, an audit policy of ``roles``."""
    base: dict[str, Any] = {
        "db_url": f"sqlite:///{db}",
        "rpc_url": rpc_url,
        "signer_key": key,
        "policy": {"roles": {name: {"allowed": calls} for name, calls in roles.items()}},
        "artifacts_path": ARTIFACTS,
        "log_level": "WARNING",
        "retry_backoff_s": 0.05,
        "poll_interval_s": 0.02,
    }
    base.update(kw)
    return KeeperSettings(**base)


def intents(store: Any) -> list[Any]:
    """The keeper's intents in order, without the pipeline's nonce fillers (the self-transfers
    that take the nonce an intent refused after building had reserved)."""
    from sqlalchemy import select

    from keepers.store.models import TxIntent

    with store.sessions() as s:
        rows = s.scalars(select(TxIntent).order_by(TxIntent.id)).all()
    return [r for r in rows if not r.idempotency_key.startswith("filler:")]


def mined_tx(store: Any, intent: Any) -> str:
    """The hash of the attempt of ``intent`` that was mined."""
    from keepers.store.models import TxAttempt

    assert intent.mined_attempt_id is not None, f"intent {intent.id} is not mined"
    with store.sessions() as s:
        return str(s.get(TxAttempt, intent.mined_attempt_id).tx_hash)
