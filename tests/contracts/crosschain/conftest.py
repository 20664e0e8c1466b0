"""Make `import keepers` find the real package under `ape test` (see the same guard in
tests/keepers/crosschain/conftest.py; a `pythonpath = ["."]` pytest option would replace both)."""

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[3])
if sys.path[:1] != [_ROOT]:
    sys.path.insert(0, _ROOT)
if getattr(sys.modules.get("keepers"), "__file__", "") is None:  # namespace already cached
    for _name in [m for m in sys.modules if m == "keepers" or m.startswith("keepers.")]:
        del sys.modules[_name]


# --------------------------------------------------------------------------- two local chains

import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import pytest  # noqa: E402
from web3 import Web3  # noqa: E402

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
                "--code-size-limit",
                "40000",
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


@pytest.fixture(scope="session")
def two_chains():
    """Two separate anvil chains, 'ethereum' (chain id 1) and 'bsc' (chain id 56)."""
    eth = _start_anvil("ethereum", ETH_CHAIN_ID)
    bsc = _start_anvil("bsc", BSC_CHAIN_ID)
    try:
        yield eth, bsc
    finally:
        for c in (eth, bsc):
            c.proc.terminate()
            try:
                c.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                c.proc.kill()


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


@pytest.fixture(scope="session")
def lz(project, two_chains):
    """USDT0 on both chains: Ethereum USDT (6) locked in an OFT adapter, BSC USDT0 (18)
    minted/burnt, each wired to the real EndpointV2 + SimpleMessageLib of its chain."""
    from keepers.crosschain.cctp import address_to_bytes32
    from keepers.crosschain.lz_local import deploy_local_lz
    from keepers.crosschain.usdt0 import OftEndpoint

    eth, bsc = two_chains
    owner_e, owner_b = eth.accounts[0], bsc.accounts[0]
    lz_e = deploy_local_lz(eth.w3, ETH_EID, owner_e, [BSC_EID])
    lz_b = deploy_local_lz(bsc.w3, BSC_EID, owner_b, [ETH_EID])
    usdt = deploy_ct(eth.w3, project.TestStablecoin.contract_type, owner_e, "Tether USD", "USDT", 6)
    adapter = deploy_ct(
        eth.w3,
        project.TestUsdt0OftAdapter.contract_type,
        owner_e,
        usdt.address,
        6,
        lz_e.endpoint,
        owner_e,
    )
    usdt0 = deploy_ct(
        bsc.w3,
        project.TestUsdt0Oft.contract_type,
        owner_b,
        "USDT0",
        "USDT0",
        18,
        lz_b.endpoint,
        owner_b,
    )
    transact(eth.w3, adapter.functions.setPeer(BSC_EID, address_to_bytes32(usdt0.address)), owner_e)
    transact(bsc.w3, usdt0.functions.setPeer(ETH_EID, address_to_bytes32(adapter.address)), owner_b)
    side_e = OftEndpoint("ethereum", eth.w3, ETH_EID, adapter.address, lz_e.endpoint)
    side_b = OftEndpoint("bsc", bsc.w3, BSC_EID, usdt0.address, lz_b.endpoint)
    return {
        "eth": eth,
        "bsc": bsc,
        "lz_e": lz_e,
        "lz_b": lz_b,
        "usdt": usdt,
        "adapter": adapter,
        "usdt0": usdt0,
        "side_e": side_e,
        "side_b": side_b,
    }


def make_usdt0_route(lz, src, dst, keeper):
    """(Usdt0Route, LocalLzRelayer) from side `src` to `dst` ('e' or 'b'), keeper-sent."""
    from keepers.crosschain.lz_local import LocalLzRelayer, LocalLzVerifier
    from keepers.crosschain.routes import Web3Sender
    from keepers.crosschain.usdt0 import Usdt0Route

    sender = Web3Sender(keeper)
    src_side, dst_side = lz[f"side_{src}"], lz[f"side_{dst}"]
    dst_lz = lz["lz_b" if dst == "b" else "lz_e"]
    verifier = LocalLzVerifier(dst_side, dst_lz.lib, sender)
    route = Usdt0Route(src_side, dst_side, verifier, sender, keeper)
    relayer = LocalLzRelayer(src_side.w3, src_side.endpoint, dst_side, verifier, sender, keeper)
    return route, relayer
