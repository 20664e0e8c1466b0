"""What the deployer still holds after a deploy, read from the chain, and what the admin must do
(issue 13: four contracts waited for `acceptOwnership` and nothing said so).

`handover_status` checks every role and ownership a deploy gives the deployer on the contracts
of a deployment record. Each one is either gone, pending to the admin (an Ownable2Step transfer
the admin must accept: an item of the checklist, with the call and who makes it) or still held
(a power the deploy failed to give away). `render` prints the checklist, or "hand-over
complete".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

FUND_ROLES = ("DEFAULT_ADMIN_ROLE", "ADMIN_ROLE", "KEEPER_ROLE", "GUARDIAN_ROLE")
TIMELOCK_ROLES = ("DEFAULT_ADMIN_ROLE", "PROPOSER_ROLE", "EXECUTOR_ROLE", "CANCELLER_ROLE")
TWO_STEP = (
    ("scheduler", "RebalanceScheduler"),
    ("tx_funder", "TxFunder"),
    ("paid_registry", "PaidRebalancerRegistry"),
    ("supervisor", "Supervisor"),
    ("fund_rebalancer", "Rebalancer"),  # owned by the registry, which keeps it for the admin
)


@dataclass
class Handover:
    admin: str
    deployer: str
    todo: list[dict[str, str]] = field(default_factory=list)  # contract, address, call, who
    held: list[str] = field(default_factory=list)  # powers the deployer still holds outright
    safe: str | None = None  # the admin is this Safe (its owners sign every call left)
    multisend: str | None = None  # the record's MultiSendCallOnly (the Safe's batches)

    @property
    def complete(self) -> bool:
        return not self.todo and not self.held


def _same(a: Any, b: Any) -> bool:
    return str(a).lower() == str(b).lower()


ACCEPT_OWNERSHIP = "0x79ba5097"  # acceptOwnership()


def _safe_who(
    record: dict[str, Any], admin: str, safe_at: Callable[[str], Any] | None = None
) -> tuple[str | None, list[str]]:
    """When the admin is the record's Safe: how its owners execute a call, and what the
    deployer holds on the Safe itself (an owner's seat). ``safe_at`` binds the Safe (its
    getOwners/getThreshold views); ape's binding of the npm artifact by default."""
    if not record.get("safe") or not _same(record["safe"], admin):
        return None, []
    if safe_at is None:
        from ballast_dev.deployment.safe import at

        safe_at = at
    safe = safe_at(str(record["safe"]))
    owners = [str(o) for o in safe.getOwners()]
    threshold = int(safe.getThreshold())
    who = (
        f"the Safe {admin}: a Safe transaction (CALL, value 0) signed by {threshold} of its "
        f"{len(owners)} owners ({', '.join(owners)})"
    )
    return who, owners


def handover_status(
    project: Any,
    record: dict[str, Any],
    deployer: str,
    admin: str,
    safe_at: Callable[[str], Any] | None = None,
) -> Handover:
    """Reads, for every contract of ``record`` (the deploy's addresses), what ``deployer`` holds.
    ``admin`` is an account or the record's Safe (``record["safe"]``): then every call left to
    the admin is a Safe transaction its owners sign. ``project`` binds the project's contracts
    and ``safe_at`` the Safe (both through ape by default; a web3 binding works the same)."""
    h = Handover(admin=str(admin), deployer=str(deployer))
    if _same(deployer, admin):
        h.held.append(f"the deployer {deployer} is the admin: it keeps the admin's powers")
    safe_who, owners = _safe_who(record, str(admin), safe_at)
    if safe_who is not None:
        h.safe, h.multisend = str(record["safe"]), record.get("safe_multisend")
    if any(_same(o, deployer) for o in owners):
        h.held.append(f"Safe {admin}: the deployer {deployer} is one of its owners")
    fund = {
        "vault": project.TieredVault.at(record["vault"]),
        "controller": project.AssetController.at(record["controller"]),
    }
    for name, c in fund.items():
        roles = FUND_ROLES + (("REBALANCER_ROLE",) if name == "controller" else ())
        for r in roles:
            if c.hasRole(getattr(c, r)(), deployer):
                h.held.append(f"{name} {c.address}: {r}")
    if record.get("timelock"):
        t = project.FundTimelock.at(record["timelock"])
        for r in TIMELOCK_ROLES:
            if t.hasRole(getattr(t, r)(), deployer):
                h.held.append(f"timelock {t.address}: {r}")
    uni = (record.get("adapters") or {}).get("uniswap")
    if uni and _same(project.UniswapV3Adapter.at(uni).owner(), deployer):
        h.held.append(f"UniswapV3Adapter {uni}: owner")
    automation = record.get("automation") or {}
    if automation.get("plan_executor"):
        ex = project.PlanExecutor.at(automation["plan_executor"])
        for r in ("DEFAULT_ADMIN_ROLE", "ADMIN_ROLE", "KEEPER_ROLE"):
            if ex.hasRole(getattr(ex, r)(), deployer):
                h.held.append(f"PlanExecutor {ex.address}: {r}")
    for key, contract_name in TWO_STEP:
        address = automation.get(key)
        if not address:
            continue
        c = getattr(project, contract_name).at(address)
        owner, pending = c.owner(), c.pendingOwner()
        if _same(pending, admin):
            h.todo.append(
                {
                    "contract": contract_name,
                    "address": str(address),
                    "call": "acceptOwnership()",
                    "data": ACCEPT_OWNERSHIP,
                    "who": safe_who or f"admin {admin}",
                }
            )
        elif _same(owner, deployer):
            h.held.append(f"{contract_name} {address}: owner (no transfer to the admin started)")
        elif not (_same(owner, admin) or _same(owner, automation.get("paid_registry"))):
            h.held.append(
                f"{contract_name} {address}: owned by {owner}, neither the admin nor the deployer"
            )
    return h


def handover_batch(
    h: Handover, chain_id: int, nonce: int, created_at_ms: int
) -> tuple[dict[str, Any], Any, bytes] | None:
    """The hand-over's calls as a Safe{Wallet} Transaction Builder batch (one Safe transaction:
    a MultiSendCallOnly DELEGATECALL for several calls), with the Safe ``nonce`` it expects and
    its SafeTx hash in the description. Returns (batch, the Safe transaction, its hash), or
    None when nothing is left to the Safe."""
    from ballast_dev.deployment import txbuilder as tb

    if h.safe is None or not h.todo:
        return None
    calls = [
        tb.SafeCall(
            to=t["address"],
            data=bytes.fromhex(t["data"].removeprefix("0x")),
            label=f"{t['contract']}.{t['call']} at {t['address']}",
        )
        for t in h.todo
    ]
    tx = tb.safe_transaction(calls, h.multisend or tb.MULTISEND_CALL_ONLY)
    tx_hash = tb.safe_tx_hash(chain_id, h.safe, tx, nonce)
    batch = tb.batch_file(
        chain_id,
        h.safe,
        calls,
        name="Ballast hand-over",
        description=tb.describe("Ballast hand-over", calls, tx, nonce, tx_hash),
        created_at_ms=created_at_ms,
    )
    return batch, tx, tx_hash


def render(h: Handover) -> str:
    if h.complete:
        return f"hand-over complete: the deployer {h.deployer} holds no role or ownership"
    lines = []
    if h.todo:
        lines.append(f"hand-over checklist: {len(h.todo)} call(s) the admin must make")
        w = max(len(t["contract"]) for t in h.todo)
        whos = {t["who"] for t in h.todo}
        for t in h.todo:
            data = f"  data {t['data']}" if t.get("data") else ""
            by = "" if len(whos) == 1 else f"  by {t['who']}"
            lines.append(f"  {t['contract']:<{w}}  to {t['address']}  {t['call']:<18}{data}{by}")
        if len(whos) == 1:
            lines.append(f"  each by {whos.pop()}")
        lines.append(f"  until then the deployer {h.deployer} still owns these contracts")
    if h.held:
        lines.append(f"the deployer {h.deployer} still holds (the deploy did not give these away):")
        lines.extend(f"  {x}" for x in h.held)
    return "\n".join(lines)
