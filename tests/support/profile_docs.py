"""A deploy profile as an operator writes one for a real network, for the tests of its
validation (`ballast_dev.deployment.profile`) and of the deploy's bad inputs."""

from __future__ import annotations

from typing import Any

USDT = "0xdAC17F958D2ee523a2206206994597C13D831ec7"  # mainnet USDT (EIP-55)
GOOD = "0x" + "11" * 20  # any well-formed address: the admin, the asset's token and feed


def mainnet_doc() -> dict[str, Any]:
    """A valid mainnet profile (USDT base, three tiers, one ERC-4626 asset); a fresh copy each
    call, for a test to change one field."""
    return {
        "network": "mainnet",
        "base": {"address": USDT},
        "tiers": [[1000, 500, 2000], [3000, 2000, 4000], [6000, 5000, 7000]],
        "risk": {"loss_budget": 50_000, "notional_budget": 10_000_000},
        "roles": {"admin": GOOD, "keeper": "0x" + "22" * 20, "guardian": "0x" + "33" * 20},
        "uniswap": {},
        "assets": [
            {"symbol": "MMF", "kind": "erc4626", "tier": 1, "token": GOOD, "feed": GOOD},
        ],
    }
