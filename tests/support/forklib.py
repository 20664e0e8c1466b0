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


def attack(w3: Any, key: str, to: str, data: bytes | str, error: str) -> tuple[Any, ...]:
    """A transaction that ``key`` sends alone (signed here, its gas fixed so that no estimate
    stops it before the chain does) must revert on chain (receipt status 0) with the custom
    error ``error`` ("Name(type,...)"): returns the error's arguments, decoded from the revert
    data of the same call at the same state (eth_call). web3 directly: ape's revert handling
    traces a deep revert on a fork for about ten seconds."""
    from eth_abi import decode
    from eth_account import Account
    from web3 import Web3
    from web3.exceptions import ContractLogicError

    sender = Account.from_key(key)
    data = Web3.to_hex(hexstr=data) if isinstance(data, str) else Web3.to_hex(data)
    tx = {"from": sender.address, "to": Web3.to_checksum_address(to), "data": data}
    try:
        w3.eth.call(tx)
    except ContractLogicError as err:
        raw = err.data if isinstance(err.data, str) else None
        assert raw, f"{error}: no revert data ({err!r})"
    else:
        raise AssertionError(f"{error}: the call by {sender.address} did not revert")
    got = bytes.fromhex(raw.removeprefix("0x"))
    assert got[:4] == Web3.keccak(text=error)[:4], f"expected {error}, reverted with {raw[:10]}"
    signed = sender.sign_transaction(
        {
            **tx,
            "nonce": w3.eth.get_transaction_count(sender.address, "pending"),
            "gas": 3_000_000,
            "gasPrice": w3.eth.gas_price,
            "chainId": w3.eth.chain_id,
        }
    )
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(signed.raw_transaction), timeout=30
    )
    assert receipt["status"] == 0, f"{error}: the transaction by {sender.address} succeeded"
    types = [t for t in error[error.index("(") + 1 : -1].split(",") if t]
    return tuple(
        Web3.to_checksum_address(v) if t == "address" else v
        for t, v in zip(types, decode(types, got[4:]), strict=True)
    )


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
    "attack",
    "intents",
    "mined_tx",
    "selector",
    "settings",
]
