"""Helpers of the fork rehearsals (a uniquely named module: `conftest` is not): keeper settings
pointed at the fork's RPC, with each keeper's SQLite store in a tmp dir."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from keepers.core.settings import KeeperSettings
from tests.support.keeper_settings import ARTIFACTS, ROOT, allow, local_settings, selector

DEPLOYMENT = ROOT / "scripts" / "deployments" / "ethereum-upstream.json"


def settings(
    db: Path, rpc_url: str, key: str, roles: dict[str, list[dict[str, str]]], **kw: Any
) -> KeeperSettings:
    """Pipeline settings: one SQLite file, one signer, an audit policy of ``roles``."""
    policy = {"roles": {name: {"allowed": calls} for name, calls in roles.items()}}
    return local_settings(db, rpc_url, key, policy, **kw)


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


__all__ = [
    "ARTIFACTS",
    "DEPLOYMENT",
    "ROOT",
    "allow",
    "intents",
    "mined_tx",
    "selector",
    "settings",
]
