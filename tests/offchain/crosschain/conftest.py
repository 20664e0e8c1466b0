"""Fixtures for the cross-chain keeper tests: a valid two-chain config document."""

import pytest

USDC_ETH = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
USDT_ETH = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
USDT_BSC = "0x55d398326f99059fF775485246999027B3197955"
USDC_BSC = "0x8AC76a51cc950d9822D68b83fE1Ad97B32Cd580d"


def good_doc() -> dict:
    return {
        "trigger_percentage": "0.5",
        "chains": [
            {
                "name": "ethereum",
                "rpc_url": "http://127.0.0.1:8545",
                "chain_id": 1,
                "cctp_domain": 0,
                "lz_endpoint_id": 30101,
                "tokens": {
                    "USDC": {"address": USDC_ETH, "decimals": 6},
                    "USDT": {"address": USDT_ETH, "decimals": 6},
                },
                "base_balances": {"USDC": "100000", "USDT": "50000.5"},
                "routes": ["CCTP", "USDT0", "CEX"],
            },
            {
                "name": "bsc",
                "rpc_url": "https://bsc.example.org",
                "chain_id": 56,
                "lz_endpoint_id": 30102,
                "tokens": {
                    "USDC": {"address": USDC_BSC, "decimals": 18},
                    "USDT": {"address": USDT_BSC, "decimals": 18},
                },
                "base_balances": {"USDC": "20000", "USDT": "75000.000000000000000001"},
                "routes": ["USDT0", "CEX"],
            },
        ],
        "route_costs": {"CCTP": 1, "USDT0": 2, "CEX": 10},
    }


@pytest.fixture
def cc_doc() -> dict:
    """A fresh valid config document (ethereum 6-dec tokens + CCTP, bsc 18-dec tokens)."""
    return good_doc()


# --------------------------------------------------------------------------- local scene


@pytest.fixture(scope="session")
def xscene(tmp_path_factory):
    """Three anvil chains: ethereum (USDC 6 over CCTP, USDT 6 in a USDT0 adapter, CEX),
    bsc (USDT0 18 decimals, CEX), base (USDC 6 over CCTP); one SQLite store."""
    from ballast_dev.local.crosschain_scene_local import build_three_chain_scene

    db = tmp_path_factory.mktemp("xmoves") / "keeper.db"
    scene = build_three_chain_scene(f"sqlite:///{db}")
    try:
        yield scene
    finally:
        scene.close()
