"""Helpers for the two-anvil cross-chain tests (imported by test modules; fixtures live in
conftest.py next to this file)."""

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass

import pytest
from web3 import Web3

ETH_CHAIN_ID, BSC_CHAIN_ID = 1, 56
ETH_EID, BSC_EID = 30101, 30102  # LayerZero V2 endpoint ids of Ethereum and BSC


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalChain:
    name: str
    chain_id: int
    w3: Web3
    proc: subprocess.Popen

    @property
    def accounts(self) -> list[str]:
        return list(self.w3.eth.accounts)


def _start_anvil(name: str, chain_id: int) -> LocalChain:
    anvil = shutil.which("anvil")
    if anvil is None:
        pytest.fail("anvil not on PATH (export PATH=$PWD/node_modules/.bin:$PATH)")
    for _attempt in range(3):
        port = _free_port()
        proc = subprocess.Popen(
            [
                anvil,
                "--chain-id",
                str(chain_id),
                "--port",
                str(port),
                "--host",
                "127.0.0.1",
                "--silent",
                "--gas-limit",
                "60000000",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}", request_kwargs={"timeout": 30}))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if w3.eth.chain_id == chain_id:
                    return LocalChain(name, chain_id, w3, proc)
            except Exception:  # noqa: BLE001 - not listening yet
                time.sleep(0.1)
        proc.kill()
        proc.wait()
    pytest.fail(f"anvil for {name} did not start")


def deploy_ct(w3: Web3, contract_type, sender: str, *args):
    """Deploy an ape-compiled contract type on a plain web3 chain; returns a web3 contract."""
    abi = [
        item.model_dump(mode="json", by_alias=True, exclude_none=True) for item in contract_type.abi
    ]
    code = contract_type.deployment_bytecode.bytecode
    factory = w3.eth.contract(abi=abi, bytecode=code)
    tx_hash = factory.constructor(*args).transact({"from": sender, "gas": 10_000_000})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 1, f"deploying {contract_type.name} reverted"
    return w3.eth.contract(address=receipt["contractAddress"], abi=abi)


def transact(w3: Web3, call, sender: str, value: int = 0):
    receipt = w3.eth.wait_for_transaction_receipt(call.transact({"from": sender, "value": value}))
    assert receipt["status"] == 1, f"{call.fn_name} reverted"
    return receipt


def make_usdt0_route(lz, src, dst, keeper):
    """(Usdt0Route, LocalLzRelayer) from side `src` to `dst` ('e' or 'b'), keeper-sent."""
    from ballast_dev.local.lz_local import LocalLzRelayer, LocalLzVerifier
    from keepers.crosschain.routes import Web3Sender
    from keepers.crosschain.usdt0 import LOCAL_LZ_RECEIVE_GAS, Usdt0Route, lz_receive_options

    sender = Web3Sender(keeper)
    src_side, dst_side = lz[f"side_{src}"], lz[f"side_{dst}"]
    dst_lz = lz["lz_b" if dst == "b" else "lz_e"]
    verifier = LocalLzVerifier(dst_side, dst_lz.lib, sender)
    options = lz_receive_options(LOCAL_LZ_RECEIVE_GAS)
    route = Usdt0Route(src_side, dst_side, verifier, sender, keeper, options)
    relayer = LocalLzRelayer(src_side.w3, src_side.endpoint, dst_side, verifier, sender, keeper)
    return route, relayer
