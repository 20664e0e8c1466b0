"""Contract handles for the keepers, from ape's build output and the deployment JSON (no ape).

``.build/__local__.json`` (written by ``ape compile``) holds every project ABI; the deployment
JSON (``scripts/deployments/<network>.json``, written by ``write_addresses``) holds addresses.
QuoterV2 is not a project contract: its one function is declared here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address
from web3 import Web3
from web3.contract import Contract

QUOTER_V2_ABI: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "quoteExactInputSingle",
        "stateMutability": "nonpayable",
        "inputs": [
            {
                "name": "params",
                "type": "tuple",
                "components": [
                    {"name": "tokenIn", "type": "address"},
                    {"name": "tokenOut", "type": "address"},
                    {"name": "amountIn", "type": "uint256"},
                    {"name": "fee", "type": "uint24"},
                    {"name": "sqrtPriceLimitX96", "type": "uint160"},
                ],
            }
        ],
        "outputs": [
            {"name": "amountOut", "type": "uint256"},
            {"name": "sqrtPriceX96After", "type": "uint160"},
            {"name": "initializedTicksCrossed", "type": "uint32"},
            {"name": "gasEstimate", "type": "uint256"},
        ],
    }
]


class DeploymentError(ValueError):
    """The deployment JSON or the build artifacts are missing something the keeper needs."""


@lru_cache(maxsize=4)
def _manifest(path: str) -> dict[str, Any]:
    p = Path(path)
    if not p.exists():
        raise DeploymentError(f"build artifacts {p} not found: run `ape compile`")
    return json.loads(p.read_text())  # type: ignore[no-any-return]


def abi(artifacts: Path | str, name: str) -> list[dict[str, Any]]:
    types = _manifest(str(artifacts)).get("contractTypes") or {}
    if name not in types:
        raise DeploymentError(f"{name} is not in {artifacts}: run `ape compile`")
    return types[name]["abi"]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class FundAddresses:
    """The addresses of one deployed fund (scripts/deployments/<network>.json)."""

    controller: str
    lens: str
    vault: str
    cash: str
    assets: dict[str, str] = field(default_factory=dict)  # symbol -> token
    feeds: dict[str, str] = field(default_factory=dict)
    adapters: dict[str, str] = field(default_factory=dict)

    @property
    def quoter(self) -> str | None:
        return self.adapters.get("uniswap_quoter")

    @property
    def symbols(self) -> dict[str, str]:
        """token (lower-case) -> symbol."""
        return {a.lower(): s for s, a in self.assets.items()}

    @classmethod
    def load(cls, path: Path | str) -> FundAddresses:
        p = Path(path)
        if not p.exists():
            raise DeploymentError(f"deployment file {p} not found (scripts/deploy.py writes it)")
        data = json.loads(p.read_text())
        return cls.from_dict(data, str(p))

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "deployment") -> FundAddresses:
        for key in ("controller", "lens", "vault", "cash"):
            if not data.get(key):
                raise DeploymentError(f"{where}: no {key!r} address")
        cs = to_checksum_address
        return cls(
            controller=cs(data["controller"]),
            lens=cs(data["lens"]),
            vault=cs(data["vault"]),
            cash=cs(data["cash"]),
            assets={k: cs(v) for k, v in (data.get("assets") or {}).items()},
            feeds={k: cs(v) for k, v in (data.get("feeds") or {}).items()},
            adapters={k: cs(v) for k, v in (data.get("adapters") or {}).items()},
        )


@dataclass
class FundContracts:
    """web3 contract objects of one fund."""

    w3: Web3
    addresses: FundAddresses
    artifacts: Path

    def _at(self, address: str, contract_abi: list[dict[str, Any]]) -> Contract:
        return self.w3.eth.contract(to_checksum_address(address), abi=contract_abi)

    def __post_init__(self) -> None:
        a = self.addresses
        self.controller = self._at(a.controller, abi(self.artifacts, "AssetController"))
        self.lens = self._at(a.lens, abi(self.artifacts, "FundLens"))
        self.vault = self._at(a.vault, abi(self.artifacts, "TieredVault"))
        self.quoter = self._at(a.quoter, QUOTER_V2_ABI) if a.quoter else None
        self.uniswap_adapter = (
            self._at(a.adapters["uniswap"], abi(self.artifacts, "UniswapV3Adapter"))
            if "uniswap" in a.adapters
            else None
        )

    def erc20(self, token: str) -> Contract:
        return self._at(token, abi(self.artifacts, "TestStablecoin"))
