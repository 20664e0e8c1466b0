"""Two local chains for the cross-chain contract tests."""

import subprocess

import pytest

from tests.support.xchainlib import (
    BSC_CHAIN_ID,
    BSC_EID,
    ETH_CHAIN_ID,
    ETH_EID,
    _start_anvil,
    deploy_ct,
    transact,
)


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


@pytest.fixture(scope="session")
def lz(project, two_chains):
    """USDT0 on both chains: Ethereum USDT (6) locked in an OFT adapter, BSC USDT0 (18)
    minted/burnt, each wired to the real EndpointV2 + SimpleMessageLib of its chain."""
    from ballast_dev.local.lz_local import deploy_local_lz
    from keepers.crosschain.cctp import address_to_bytes32
    from keepers.crosschain.usdt0 import OftEndpoint

    eth, bsc = two_chains
    owner_e, owner_b = eth.accounts[0], bsc.accounts[0]
    lz_e = deploy_local_lz(eth.w3, ETH_EID, owner_e, [BSC_EID])
    lz_b = deploy_local_lz(bsc.w3, BSC_EID, owner_b, [ETH_EID])
    usdt = deploy_ct(eth.w3, project.TestStablecoin.contract_type, owner_e, "Tether USD", "USDT", 6)
    adapter = deploy_ct(
        eth.w3,
        project.TestUsdt0OFTAdapter.contract_type,
        owner_e,
        usdt.address,
        lz_e.endpoint,
        owner_e,
    )
    usdt0 = deploy_ct(
        bsc.w3,
        project.TestUsdt0OFT.contract_type,
        owner_b,
        "USDT0",
        "USDT0",
        lz_b.endpoint,
        owner_b,
    )
    transact(eth.w3, adapter.functions.setPeer(BSC_EID, address_to_bytes32(usdt0.address)), owner_e)
    transact(bsc.w3, usdt0.functions.setPeer(ETH_EID, address_to_bytes32(adapter.address)), owner_b)
    side_e = OftEndpoint("ethereum", eth.w3, ETH_EID, adapter.address, lz_e.endpoint, 6)
    side_b = OftEndpoint("bsc", bsc.w3, BSC_EID, usdt0.address, lz_b.endpoint, 18)
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
