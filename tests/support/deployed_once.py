"""A fund deployed once per test process and handed to every module as just deployed
(tests/support/fixtures_fund.py): the record copied per module, ape taught its contracts again
and the chain checked against what the deploy left.

The fund's contracts are deployed by a session-scoped fixture, so ape's module isolation takes
each module's snapshot after the deploy and reverts to it when the module ends: the next module
starts on the chain the deploy left. ``check_as_deployed`` is what makes a leak loud: each
module's ``fund`` compares the fund's state (every field of the lens's FundState: totals,
tiers, every asset's holding, price and limits, the mark, the pause, but when an asynchronous
asset's window opens, a view of the clock; the shares, the cash and every asset token's supply,
the cash the named holders hold) with the figures read right after the deploy, and fails naming
each field that moved, so a module never runs on what an earlier one left."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from ape.exceptions import UnknownSnapshotError

from ballast_dev.deployment.fund import FundDeployment, fund_state

T = TypeVar("T")
# ape's in-memory caches of what it knows about a local address (ape/managers/_contractscache.py)
_APE_CACHES = ("contract_types", "proxy_infos", "contract_creations")


@dataclass(frozen=True)
class ApeKnowledge:
    """What ape learnt about the addresses a deploy created: the contract type of each (to
    decode its calls' return values, its logs and its custom errors), its proxy and creation
    records. A test that plays a new process calls ``chain.contracts.clear_local_caches()``
    (tests/contracts/fund/test_deploy_safe.py, tests/offchain/fund/test_deploy_record.py), which
    a module's own deploy survived (it cached its contracts again); a deploy made once per
    process is taught to ape again at each module's start (``teach``)."""

    entries: dict[str, dict[str, Any]]

    @classmethod
    def around(cls, chain: Any, deploy: Callable[[], T]) -> tuple[T, ApeKnowledge]:
        """Runs ``deploy()`` and keeps the cache entries it added or changed, and every entry
        for an address of the deployment (``deploy()``'s ``addresses()``, where it has one):
        an earlier module of the process may have deployed the same contract at the same
        address (each module's nonces start again after the revert), and ape then caches the
        very object it already held, which no comparison with the caches before tells apart
        (that module's later ``clear_local_caches`` left the fund's cash undecodable)."""
        before = {n: dict(getattr(chain.contracts, n).memory) for n in _APE_CACHES}
        out = deploy()
        ours = set(_addresses(out.addresses())) if hasattr(out, "addresses") else set()
        entries = {
            n: {
                k: v
                for k, v in getattr(chain.contracts, n).memory.items()
                if before[n].get(k) is not v or k in ours
            }
            for n in _APE_CACHES
        }
        return out, cls(entries)

    def teach(self, chain: Any) -> None:
        """Puts the deploy's entries back into ape's caches (the chain is back at the deploy)."""
        for n, entries in self.entries.items():
            getattr(chain.contracts, n).memory.update(entries)


def _addresses(x: Any) -> list[str]:
    """Every address in a deployment's ``addresses()`` (nested dictionaries of them)."""
    if isinstance(x, dict):
        return [a for v in x.values() for a in _addresses(v)]
    if isinstance(x, str) and x.startswith("0x") and len(x) == 42:
        return [x]
    return []


def _leaves(path: str, x: Any, out: dict[str, Any]) -> None:
    """An ape struct or array flattened into ``out``: one entry per field, named by its path
    (``lens.fundState.assets[2].balance``), so a check names the very figure that moved."""
    if hasattr(x, "items"):
        for k, v in x.items():
            _leaves(f"{path}.{k}", v, out)
    elif isinstance(x, (list, tuple)):
        for i, v in enumerate(x):
            _leaves(f"{path}[{i}]", v, out)
    else:
        out[path] = x


def fund_fingerprint(f: FundDeployment, holders: dict[str, Any]) -> dict[str, Any]:
    """The figures a module's actions would move, read from the chain now."""
    out: dict[str, Any] = {}
    _leaves("lens.fundState", fund_state(f), out)
    # when an asynchronous asset's next window opens is a view of the clock (the call's block
    # time while a window is open), not of the fund's state: it moves with the wall clock
    for k in [k for k in out if k.endswith(".windowOpensAt")]:
        del out[k]
    out["vault.totalSupply"] = int(f.vault.totalSupply())
    out["cash.totalSupply"] = int(f.cash.totalSupply())
    for sym, token in f.assets.items():
        out[f"assets[{sym}].totalSupply"] = int(token.totalSupply())
    for name, who in holders.items():
        out[f"cash.balanceOf({name})"] = int(f.cash.balanceOf(who))
    return out


def check_as_deployed(f: FundDeployment, holders: dict[str, Any], deployed: dict[str, Any]) -> None:
    """Raises AssertionError naming every figure of ``fund_fingerprint`` that differs from
    ``deployed`` (what the deploy left): the chain was not put back before this module."""
    now = fund_fingerprint(f, holders)
    moved = [k for k in deployed if now.get(k) != deployed[k]]
    if moved:
        lines = "\n".join(f"  {k}: deployed {deployed[k]!r}, now {now.get(k)!r}" for k in moved)
        head = f.vault.chain_manager.blocks.head
        lines += f"\n  (the chain's head: block {head.number} at {head.timestamp})"
        raise AssertionError(
            "the process's fund is not as deployed at the start of this module (an earlier "
            f"module's changes were not reverted):\n{lines}"
        )


def module_copy(d: FundDeployment) -> FundDeployment:
    """The deployment record for one module: its dictionaries copied, so what a module's
    fixtures write into it (tests/offchain/fundbot/executor_fund.py names its executor and Safe
    there) stays with the module, as with a module's own deploy."""
    return replace(
        d,
        adapters=dict(d.adapters),
        assets=dict(d.assets),
        feeds=dict(d.feeds),
        automation=dict(d.automation),
    )


@contextlib.contextmanager
def reverted_after(chain: Any) -> Iterator[None]:
    """Puts the chain back, when the block ends, to where it was when the block began: a part
    of a module that must leave the chain as it found it (tests/contracts/fund/conftest.py's
    ``base_decimals``, between a module's 6- and 18-decimal tests). A snapshot that a revert to
    an earlier one removed meanwhile (ape's rebase reverts to the module's snapshot) is left
    alone: the chain is already back before it."""
    snap = chain.snapshot()
    yield
    with contextlib.suppress(UnknownSnapshotError):
        chain.restore(snap)
