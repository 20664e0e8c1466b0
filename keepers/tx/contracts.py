"""Contract handles for the keepers, from the exported ABIs and the deployment JSON (no ape).

ABIs come from ``keepers.abis`` (package data exported from the build by ``make abis``); the
deployment JSON (``scripts/deployments/<network>.json``, written by ``write_addresses``) holds
addresses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import requests
from eth_typing import HexStr
from eth_utils import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from keepers import abis
from keepers.core.errors import ConfigError
from keepers.tx.reads import Read, ReadFailed, answer, fn


class DeploymentError(ConfigError):
    """The deployment JSON is missing something the keeper needs, or does not match the chain."""


class ChainMismatchError(ConfigError):
    """The node, the configuration and the deployment disagree (KEEPER_CHAIN_ID, the tier
    bands); the message names the variable and both values."""


def read_record(path: Path | str) -> dict[str, Any]:
    """The deployment record's JSON object, as scripts/deploy.py writes it (the keeper's
    addresses, and the deploy's own record when it resumes): DeploymentError naming the file
    when it is missing, not JSON, or not an object."""
    p = Path(path)
    if not p.exists():
        raise DeploymentError(f"deployment file {p} not found (scripts/deploy.py writes it)")
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError as err:
        raise DeploymentError(f"deployment file {p} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise DeploymentError(f"deployment file {p}: expected a JSON object")
    return data


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
    chain_id: int | None = None  # the chain the record was written on (deploy script)
    # the PlanExecutor in front of the controller (issue 15), when deployed: the record's
    # ``automation.plan_executor`` (FundDeployment.addresses()) or a top-level ``plan_executor``
    plan_executor: str | None = None
    where: str = "deployment"  # the file it came from, for messages
    # the contract release the deploy recorded (the controller's RELEASE()); None in a record
    # written before 0.2.0 (keepers.tx.release)
    release: str | None = None
    # the FundTimelock the admin proposes through (the record's ``timelock``): what is queued,
    # when it is executable and when it expires (keepers.fund.timelock); None in an older record
    timelock: str | None = None
    # the deploy's first block (the record's ``blocks.first``): where event sums start
    first_block: int | None = None

    @property
    def quoter(self) -> str | None:
        return self.adapters.get("uniswap_quoter")

    @property
    def symbols(self) -> dict[str, str]:
        """token (lower-case) -> symbol."""
        return {a.lower(): s for s, a in self.assets.items()}

    @classmethod
    def load(cls, path: Path | str) -> FundAddresses:
        return cls.from_dict(read_record(path), str(Path(path)))

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "deployment") -> FundAddresses:
        if data.get("complete") is False:
            raise DeploymentError(
                f"{where}: the deploy that writes it did not finish "
                f"({len(data.get('steps') or [])} steps recorded): run it again to resume"
            )
        for key in ("controller", "lens", "vault", "cash"):
            if not data.get(key):
                raise DeploymentError(f"{where}: no {key!r} address")

        def cs(v: Any) -> str:
            try:
                return to_checksum_address(v)
            except (ValueError, TypeError):
                raise DeploymentError(f"{where}: not an address: {v!r}") from None

        chain_id = data.get("chain_id")
        automation = data.get("automation") or {}
        executor = data.get("plan_executor") or (
            automation.get("plan_executor") if isinstance(automation, dict) else None
        )
        return cls(
            controller=cs(data["controller"]),
            lens=cs(data["lens"]),
            vault=cs(data["vault"]),
            cash=cs(data["cash"]),
            assets={k: cs(v) for k, v in (data.get("assets") or {}).items()},
            feeds={k: cs(v) for k, v in (data.get("feeds") or {}).items()},
            adapters={k: cs(v) for k, v in (data.get("adapters") or {}).items()},
            chain_id=int(chain_id) if chain_id is not None else None,
            plan_executor=cs(executor) if executor else None,
            where=where,
            release=str(data["release"]) if data.get("release") else None,
            timelock=cs(data["timelock"]) if data.get("timelock") else None,
            first_block=_first_block(data),
        )


# web3's contract handles per node connection: building a class walks the whole ABI (about 10
# ms for the controller, 15 for the vault) and an instance at an address builds its function
# and event namespaces again (about 4 ms), and every FundContracts, approval check and read
# built them again. The class is what `w3.eth.contract(abi=...)` returns; an instance at an
# address is made from it as `w3.eth.contract(address, abi=...)` makes one. They are kept in
# the connection object's own dict, so they live and die with it: a module-level
# WeakKeyDictionary keyed by the connection never let one go (its values, web3 classes, hold
# the connection), and every bot's connection stayed in memory for the process's life.
_KEPT = "ballast_contract_handles"


def contract_at(w3: Web3, address: str, contract_abi: list[dict[str, Any]]) -> Contract:
    """``w3.eth.contract(address, abi=contract_abi)``, built once per connection, ABI object
    and address (the exported ABIs are shared objects: ``keepers.abis.load``). A handle holds
    no state of a call (each ``functions.f(...)`` is a new object), so it is shared."""
    kept: dict[Any, tuple[Any, Any]] = vars(w3).setdefault(_KEPT, {})
    checksum = to_checksum_address(address)
    # the ABI object is held in each entry, so its id is not reused while the entry lives
    entry = kept.get((id(contract_abi), checksum))
    if entry is None or entry[0] is not contract_abi:
        factory = kept.get(id(contract_abi))
        if factory is None or factory[0] is not contract_abi:
            factory = (contract_abi, w3.eth.contract(abi=contract_abi))
            kept[id(contract_abi)] = factory
        entry = (contract_abi, factory[1](checksum))
        kept[(id(contract_abi), checksum)] = entry
    return entry[1]  # type: ignore[no-any-return]


@cache
def abi_entries(name: str, *entries: str) -> list[dict[str, Any]]:
    """The entries of exported ABI ``name`` (keepers.abis) with these names, in the ABI's
    order: one list object per request, so ``contract_at`` keeps one handle per connection and
    address. ValueError naming an entry the ABI does not have."""
    abi = abis.load(name)
    missing = sorted(set(entries) - {str(e.get("name")) for e in abi})
    if missing:
        raise ValueError(f"{name}'s ABI has no {', '.join(missing)}")
    return [e for e in abi if e.get("name") in entries]


def _first_block(data: dict[str, Any]) -> int | None:
    blocks = data.get("blocks")
    first = blocks.get("first") if isinstance(blocks, dict) else None
    return int(first) if isinstance(first, int) and first >= 0 else None


# the fund's contracts FundContracts.only binds a handle on: the record's field -> its ABI
_ONLY = {"vault": "TieredVault", "controller": "AssetController", "timelock": "FundTimelock"}


@dataclass
class FundContracts:
    """web3 contract objects of one fund, each bound on its first use (``contract_at``): binding
    one is web3's work over its whole ABI on each new connection (0.6-9 ms of CPU each, 28 ms
    for the seven), and a bot or a CLI command uses some of them only (the reads go through
    ``keepers.tx.reads``; the lens, the quoter and the adapter's handles are for the paths that
    need them). Absent from the record, the optional ones are None."""

    w3: Web3
    addresses: FundAddresses

    def _at(self, address: str, contract_abi: list[dict[str, Any]]) -> Contract:
        return contract_at(self.w3, address, contract_abi)

    def _optional(self, address: str | None, name: str) -> Contract | None:
        return self._at(address, abis.load(name)) if address else None

    @cached_property
    def controller(self) -> Contract:
        return self._at(self.addresses.controller, abis.load("AssetController"))

    @cached_property
    def lens(self) -> Contract:
        return self._at(self.addresses.lens, abis.load("FundLens"))

    @cached_property
    def vault(self) -> Contract:
        return self._at(self.addresses.vault, abis.load("TieredVault"))

    @cached_property
    def quoter(self) -> Contract | None:
        return self._optional(self.addresses.quoter, "IQuoterV2")

    @cached_property
    def uniswap_adapter(self) -> Contract | None:
        return self._optional(self.addresses.adapters.get("uniswap"), "UniswapV3Adapter")

    @cached_property
    def executor(self) -> Contract | None:
        return self._optional(self.addresses.plan_executor, "PlanExecutor")

    @cached_property
    def timelock(self) -> Contract | None:
        return self._optional(self.addresses.timelock, "FundTimelock")

    def only(self, which: str, *entries: str) -> Contract:
        """A handle on the fund's ``vault``, ``controller`` or ``timelock`` (``which``: the
        record must name it) over these entries of its ABI alone (functions or events, by
        name), for a path that calls nothing else. web3 builds a handle over the ABI it is
        given: 8-10 ms of CPU for the vault's or the controller's whole ABI on each new
        connection (a bot, a CLI command), next to nothing for a few entries. The entries are
        the ABI's own dicts, so each call encodes, decodes and raises as the whole ABI's handle
        does. ValueError naming ``which`` or an entry the ABI lacks, when the handle is made."""
        if which not in _ONLY:
            raise ValueError(f"which={which!r}: one of {', '.join(_ONLY)}")
        address = getattr(self.addresses, which)
        if address is None:
            raise ValueError(f"{self.addresses.where} names no {which}")
        return self._at(address, abi_entries(_ONLY[which], *entries))

    def verify(self) -> None:
        """Start-up check: the record belongs to this chain, every contract in it has code and
        the fund's contracts answer as they should about each other. Raises DeploymentError
        naming the file and what is wrong (a controller at 0x...dEaD used to pass).

        The code of every contract and the fund's answers are asked in one JSON-RPC batch (one
        round trip, not one per contract: about 26 on the demo fund, each a remote node's
        latency at every start and every ``keeper status``). A node that refuses the batch, or
        any item of it (a provider's cap on a batch's size), is asked one call at a time, as
        before; a node that does not answer fails the same way either way."""
        a = self.addresses
        where = a.where
        actual = int(self.w3.eth.chain_id)
        if a.chain_id is not None and a.chain_id != actual:
            raise DeploymentError(
                f"{where} was written on chain {a.chain_id}, the node is chain {actual}"
            )
        named = {"controller": a.controller, "lens": a.lens, "vault": a.vault, "cash": a.cash}
        named.update({f"assets.{k}": v for k, v in a.assets.items()})
        named.update({f"feeds.{k}": v for k, v in a.feeds.items()})
        named.update({f"adapters.{k}": v for k, v in a.adapters.items()})
        if a.plan_executor:
            named["automation.plan_executor"] = a.plan_executor
        checks = [
            ("controller.vault()", Read(a.controller, fn("AssetController", "vault")), a.vault),
            ("vault.controller()", Read(a.vault, fn("TieredVault", "controller")), a.controller),
            ("vault.asset()", Read(a.vault, fn("TieredVault", "asset")), a.cash),
            ("controller.cash()", Read(a.controller, fn("AssetController", "cash")), a.cash),
        ]
        if a.plan_executor:
            executor_controller = Read(a.plan_executor, fn("PlanExecutor", "controller"))
            checks.append(("plan_executor.controller()", executor_controller, a.controller))
        asset_list = Read(a.controller, fn("AssetController", "assetList"))
        reads = [r for _, r, _ in checks] + [asset_list]
        answers = self._batched(named, reads)
        if answers is None:  # the node refused a batch: one call at a time
            answers = self._one_by_one(named, reads)
        has_code, values = answers
        empty = [f"{k} {v}" for k, v in named.items() if not has_code[k]]
        if empty:
            raise DeploymentError(f"{where}: no contract code at " + ", ".join(empty))
        for (label, _, expected), got in zip(checks, values, strict=False):
            if isinstance(got, Exception):  # any failure: not the contract we expect
                raise DeploymentError(
                    f"{where}: {label} does not answer ({type(got).__name__}): not a Ballast "
                    "fund contract, or built from other sources"
                )
            if str(got).lower() != expected.lower():
                raise DeploymentError(f"{where}: {label} is {got}, the record says {expected}")
        listed = values[-1]
        if isinstance(listed, ContractLogicError):
            raise DeploymentError(
                f"{where}: controller.assetList() reverts: not a Ballast fund controller, or "
                "built from other sources"
            )
        if isinstance(listed, Exception):
            raise listed
        listed = {str(t).lower() for t in listed}
        unknown = [s for s, t in a.assets.items() if t.lower() not in listed]
        if unknown:
            raise DeploymentError(
                f"{where}: assets not listed on the controller: {', '.join(unknown)}"
            )

    def _batched(
        self, named: dict[str, str], reads: list[Read]
    ) -> tuple[dict[str, bool], list[Any]] | None:
        """Whether each named address has code, and each read's value (or its error as web3's
        ``.call()`` raises it), from one batch at the latest block; None when the node refused
        the batch (a JSON-RPC error for the whole of it, an HTTP 4xx) or any item of it other
        than by a revert. A node that does not answer raises as any request does."""
        batch = [("eth_getCode", [v, "latest"]) for v in named.values()]
        batch += [r.request("latest") for r in reads]
        try:
            resp: Any = self.w3.provider.make_batch_request(batch)  # type: ignore[attr-defined]
        except requests.HTTPError as err:
            status = err.response.status_code if err.response is not None else None
            if status is not None and 400 <= status < 500:
                return None
            raise
        except (KeyError, TypeError, ValueError):  # an answer that is not a JSON-RPC batch
            return None
        if not isinstance(resp, list) or len(resp) != len(batch):
            return None
        codes, items = resp[: len(named)], resp[len(named) :]
        if any(not isinstance(c, dict) or c.get("error") or "result" not in c for c in codes):
            return None
        values = [answer(r, item) for r, item in zip(reads, items, strict=True)]
        if any(isinstance(v, ReadFailed) and not (v.reverted or v.bad_output) for v in values):
            return None  # an item refused (not reverted, not undecodable): the node's limit
        has_code = {
            k: str(c["result"]) not in ("", "0x") for k, c in zip(named, codes, strict=True)
        }
        return has_code, [v.error() if isinstance(v, ReadFailed) else v for v in values]

    def _one_by_one(
        self, named: dict[str, str], reads: list[Read]
    ) -> tuple[dict[str, bool], list[Any]]:
        """What ``_batched`` answers, asked one call at a time (a node without batches)."""
        has_code = {k: bool(self.w3.eth.get_code(to_checksum_address(v))) for k, v in named.items()}
        if not all(has_code.values()):
            return has_code, []
        values: list[Any] = []
        for r in reads:
            try:
                call = {"to": to_checksum_address(r.to), "data": HexStr(r.fn.calldata())}
                raw = self.w3.eth.call(call)  # type: ignore[arg-type]
                values.append(answer(r, {"result": "0x" + bytes(raw).hex()}))
            except Exception as err:  # noqa: BLE001 - any failure: not the contract we expect
                values.append(err)
        values = [v.error() if isinstance(v, ReadFailed) else v for v in values]
        return has_code, values

    def erc20(self, token: str) -> Contract:
        return self._at(token, abis.load("IERC20Min"))
