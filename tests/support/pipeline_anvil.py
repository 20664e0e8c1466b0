"""A standalone anvil on a free port for the pipeline tests (always killed in teardown)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from web3 import HTTPProvider, Web3

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".build" / "__local__.json"
# anvil's default mnemonic ("test test ... junk"), accounts 0..3
KEYS = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Anvil:
    def __init__(self, *extra: str) -> None:
        binary = shutil.which("anvil") or str(ROOT / "node_modules" / ".bin" / "anvil")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--host", "127.0.0.1", "--silent", *extra],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.w3 = Web3(HTTPProvider(self.url, request_kwargs={"timeout": 30}))
        for _ in range(200):
            try:
                if self.w3.is_connected():
                    return
            except Exception:  # noqa: BLE001 - not up yet
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("anvil did not start")

    def rpc(self, method: str, *params: Any) -> Any:
        resp = self.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
        if resp.get("error"):
            raise RuntimeError(f"{method}: {resp['error']}")
        return resp.get("result")

    def mine(self, blocks: int = 1) -> None:
        self.rpc("anvil_mine", hex(blocks))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def contract_type(name: str) -> dict[str, Any]:
    return json.loads(ARTIFACTS.read_text())["contractTypes"][name]  # type: ignore[no-any-return]


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
    try:
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=2, poll_latency=0.05)
    except Exception:  # noqa: BLE001 - automine off: mine it
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10, poll_latency=0.05)
    return w3.eth.contract(address=receipt["contractAddress"], abi=ct["abi"])
