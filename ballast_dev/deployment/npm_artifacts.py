"""Contracts from npm packages' build artifacts (Uniswap V3, Safe): read once, as ape containers.

One loader for every deploy helper that uses bytecode shipped in node_modules instead of
compiling it; each caller declares a `Package`: its artifacts by name and the error to raise
when `npm ci` has not run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"


@cache
def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def artifact(relative: str, missing: type[Exception]) -> dict[str, Any]:
    """The artifact JSON at ``node_modules/<relative>``; ``missing`` raised when absent."""
    path = NODE_MODULES / relative
    if not path.exists():
        raise missing(f"{path} missing: run `make setup` (npm ci)")
    return _read(path)


def container(relative: str, missing: type[Exception]) -> Any:
    """An ape ContractContainer with the artifact's ABI and bytecode."""
    from ape.contracts import ContractContainer
    from ethpm_types import ContractType

    art = artifact(relative, missing)
    return ContractContainer(
        ContractType.model_validate(
            {
                "contractName": art["contractName"],
                "abi": art["abi"],
                "deploymentBytecode": {"bytecode": art["bytecode"]},
                "runtimeBytecode": {"bytecode": art["deployedBytecode"]},
            }
        )
    )


@dataclass(frozen=True)
class Package:
    """One npm package's artifacts by name (paths under node_modules/) and the error raised
    when one is missing."""

    paths: Mapping[str, str]
    missing: type[Exception]

    def artifact(self, name: str) -> dict[str, Any]:
        """The artifact JSON of contract ``name``."""
        return artifact(self.paths[name], self.missing)

    def container(self, name: str) -> Any:
        """An ape ContractContainer for contract ``name``."""
        return container(self.paths[name], self.missing)
