"""A standalone anvil on a free port for the pipeline tests (always killed in teardown),
started by the one anvil starter (ballast_dev/local/anvil_local.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from web3 import HTTPProvider, Web3

from ballast_dev.local.anvil_local import (
    ANVIL_KEYS,
    BUILD_MANIFEST,
    contract_type,
    start_anvil,
    stop_anvil,
)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = BUILD_MANIFEST
KEYS = ANVIL_KEYS


class Anvil:
    def __init__(self, *extra: str) -> None:
        self.proc, self.url = start_anvil(*extra)
        self.w3 = Web3(HTTPProvider(self.url, request_kwargs={"timeout": 30}))

    def rpc(self, method: str, *params: Any) -> Any:
        resp = self.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
        if resp.get("error"):
            raise RuntimeError(f"{method}: {resp['error']}")
        return resp.get("result")

    def mine(self, blocks: int = 1) -> None:
        self.rpc("anvil_mine", hex(blocks))

    def stop(self) -> None:
        stop_anvil(self.proc)


def deploy(w3: Web3, name: str, *args: Any, key: str = KEYS[0]) -> Any:
    """Deploy a compiled contract of this project's build with web3, constructor ``args``
    (automine or not: mines if needed)."""
    ct = contract_type(name)
    acct = w3.eth.account.from_key(key)
    factory = w3.eth.contract(abi=ct["abi"], bytecode=ct["deploymentBytecode"]["bytecode"])
    tx = factory.constructor(*args).build_transaction(
        {"from": acct.address, "nonce": w3.eth.get_transaction_count(acct.address, "pending")}
    )
    tx_hash = w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction)
    # a chain that mines by itself (automine, or blocks on a clock) gets time for a block; one
    # that does not (--no-mining; --mixed-mining has mined it on arrival) is not waited on
    clock = _rpc_result(w3, "anvil_getAutomine") or _rpc_result(w3, "anvil_getIntervalMining")
    try:
        receipt = w3.eth.wait_for_transaction_receipt(
            tx_hash, timeout=2 if clock else 0.25, poll_latency=0.05
        )
    except Exception:  # noqa: BLE001 - automine off: mine it
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10, poll_latency=0.05)
    return w3.eth.contract(address=receipt["contractAddress"], abi=ct["abi"])


def _rpc_result(w3: Web3, method: str) -> Any:
    """``method``'s result (no parameters), or None where the node refuses it."""
    resp = w3.provider.make_request(method, [])  # type: ignore[arg-type]
    return None if resp.get("error") else resp.get("result")
