"""The ABIs the keepers call, as package data exported from the build.

``make abis`` (run by ``make compile``) copies each contract's ABI from ape's build
(``.build/__local__.json``) into ``keepers/abis/<Name>.json`` (scripts/toolchain/export_abis.py);
the files are committed, so the runtime wheel needs no build and no repository. External
contracts (ERC-20, Uniswap V3, CCTP V2, LayerZero, the Safe's owner views) are declared once, as the subset the keepers
call, in ``contracts/interfaces/external/``. ``_errors.json`` holds every custom error of the
build, for revert decoding. tests/offchain/abis checks that the files equal the current build.

Add a contract the keepers call: add its name to ``NAMES``, run ``make abis``, then
``load("Name")``.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from keepers.core.errors import ConfigError

# What `make abis` exports and all the keepers may load.
NAMES: tuple[str, ...] = (
    # the fund (contracts/fund)
    "AssetController",
    "FundLens",
    "TieredVault",
    "UniswapV3Adapter",
    # automation (contracts/automation)
    "RebalanceScheduler",
    "TxFunder",
    "Rebalancer",
    "PaidRebalancerRegistry",
    "Supervisor",
    # the keeper's plans go through it where deployed (contracts/fund/PlanExecutor.sol)
    "PlanExecutor",
    # the admin's timelock: what is queued, when it is ready and when it expires (issue 67)
    "FundTimelock",
    # external contracts, the subset the keepers call (contracts/interfaces/external)
    "IERC20Min",
    "IChainlinkFeed",
    "IQuoterV2",
    "IUniswapV3Factory",
    "IUniswapV3Pool",
    "ICctpTokenMessengerV2",
    "ICctpMessageTransmitterV2",
    "ILzEndpointV2",
    "ILzOFT",
    "ISafeView",
)
ERRORS = "_errors"  # every custom error of the build: [{"contract", "name", "inputs"}]


class AbiNotExported(ConfigError, LookupError):
    """A name the keepers load is not exported (not in NAMES, or `make abis` not run): the
    installation lacks its package data, a configuration error (exit 2)."""


@cache
def _read(name: str) -> Any:
    try:
        text = resources.files(__name__).joinpath(f"{name}.json").read_text()
    except FileNotFoundError:
        raise AbiNotExported(
            f"no exported ABI {name!r} in keepers/abis: add it to keepers.abis.NAMES and "
            "run `make abis`"
        ) from None
    return json.loads(text)


def load(name: str) -> list[dict[str, Any]]:
    """The ABI of contract ``name`` (shared, cached: do not mutate it)."""
    if name not in NAMES:
        raise AbiNotExported(f"{name!r} is not one of the exported ABIs (keepers.abis.NAMES)")
    return _read(name)  # type: ignore[no-any-return]


def abi_type(item: dict[str, Any]) -> str:
    """The canonical type of an ABI input or output (tuples spelt out), as in a signature."""
    t = str(item["type"])
    if t.startswith("tuple"):
        inner = ",".join(abi_type(c) for c in item.get("components", []))
        return f"({inner}){t[5:]}"
    return t


def errors() -> list[dict[str, Any]]:
    """Every custom error of the build, first declaring contract per selector."""
    return _read(ERRORS)  # type: ignore[no-any-return]
