"""Helpers for the two-anvil cross-chain tests (imported by test modules; fixtures live in
conftest.py next to this file)."""

import subprocess
from dataclasses import dataclass

from web3 import Web3

from ballast_dev.local.crosschain_scene_local import start_chain

ETH_CHAIN_ID, BSC_CHAIN_ID = 1, 56
ETH_EID, BSC_EID = 30101, 30102  # LayerZero V2 endpoint ids of Ethereum and BSC


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
    """One anvil with ``chain_id``, started by the scene's starter (one anvil starter)."""
    proc, url = start_chain(chain_id)
    return LocalChain(
        name, chain_id, Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30})), proc
    )


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
