"""What the deployer still holds after a deploy, read from the chain, and what the admin must do
(issue 13: four contracts waited for `acceptOwnership` and nothing said so).

`handover_status` checks every role and ownership a deploy gives the deployer on the contracts
of a deployment record. Each one is either gone, pending to the admin (an Ownable2Step transfer
the admin must accept: an item of the checklist, with the call and who makes it) or still held
(a power the deploy failed to give away). `render` prints the checklist, or "hand-over
complete".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

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


RELEASE_TEXT = "code planted by the deployer, or this checkout is not the release that deployed it"
ANY_ADMIN = "0x000000000000000000000000000000000000dEaD"  # a constructor's admin: storage only


def _contract_type(project: Any, name: str) -> dict[str, Any] | None:
    """This checkout's build of ``name`` as a JSON document (``abi``, ``deploymentBytecode``):
    through the binding's ``contract_type(name)`` (a web3 binding over the build) or ape's
    ``project.<name>.contract_type``; None when the binding has no build."""
    own = getattr(type(project), "contract_type", None)
    if callable(own):
        return project.contract_type(name)  # type: ignore[no-any-return]
    ct = getattr(getattr(project, name, None), "contract_type", None)
    if ct is None or not ct.deployment_bytecode or not ct.deployment_bytecode.bytecode:
        return None
    return ct.model_dump(by_alias=True, mode="json")  # type: ignore[no-any-return]


def _web3(project: Any) -> Any:
    """The binding's web3 (``project.w3``), or ape's provider's."""
    w3 = project.__dict__.get("w3") if hasattr(project, "__dict__") else None
    if w3 is not None:
        return w3
    from ape import chain

    return chain.provider.web3


def _made(w3: Any, ct: dict[str, Any], args: list[Any]) -> bytes:
    """The runtime code ``ct``'s creation code makes with constructor ``args``, run by eth_call
    (the immutables are this deployment's; nothing is deployed)."""
    from eth_abi import encode
    from eth_utils import get_abi_input_types

    ctor: dict[str, Any] = next(
        (e for e in ct["abi"] if e.get("type") == "constructor"), {"inputs": []}
    )
    types = get_abi_input_types(cast(Any, {**ctor, "type": "constructor", "name": ""}))
    initcode = ct["deploymentBytecode"]["bytecode"] + encode(types, args).hex()
    return bytes(w3.eth.call({"data": initcode}))


def _view(w3: Any, ct: dict[str, Any], address: str, fn: str, *args: Any) -> Any:
    from web3 import Web3

    c = w3.eth.contract(address=Web3.to_checksum_address(address), abi=ct["abi"])
    return c.functions[fn](*args).call()


def _settings(w3: Any, ct: dict[str, Any], controller: str) -> list[Any]:
    """Tiers and risk parameters the constructor accepts (they reach storage only, never the
    code): the controller's own, or the deploy's defaults when it does not answer them (its
    views run in its module: a planted one answers nothing)."""
    from web3.exceptions import ContractLogicError

    from ballast_dev.deployment.fund import DEFAULT_TIERS, RiskSpec

    try:
        tiers = [tuple(_view(w3, ct, controller, "tier", t)) for t in range(3)]
        risk = tuple(_view(w3, ct, controller, "riskParams"))
    except ContractLogicError:
        return [[tuple(t) for t in DEFAULT_TIERS], RiskSpec().as_tuple()]
    return [tiers, risk]


def _code_problems(project: Any, record: dict[str, Any]) -> list[str]:
    """The vault, the controller and the controller's configuration module each compared with
    what this release's creation code makes for this deployment, run by eth_call: the vault's
    TieredVault for the record's cash, the controller's AssetController for the record's vault
    with its module and its own settings (tiers, risk: they do not change its code), the
    module's AssetControllerAdmin for the vault. Constructor arguments that only reach storage
    (names, admins) do not change the code either. A deployer who names or plants other code
    (any of the three runs with the fund's money or on its storage) is named; so is a checkout
    of another release (a rebuild's metadata differs). Empty where the binding has no build.
    Each through ape, or a web3 binding that answers ``contract_type(name)`` and has ``w3``."""
    cts = {
        n: _contract_type(project, n)
        for n in ("TieredVault", "AssetController", "AssetControllerAdmin")
    }
    if any(ct is None for ct in cts.values()):
        return []
    vault_ct, ctrl_ct, module_ct = (
        cts["TieredVault"],
        cts["AssetController"],
        cts["AssetControllerAdmin"],
    )
    assert vault_ct is not None and ctrl_ct is not None and module_ct is not None
    from web3 import Web3
    from web3.exceptions import ContractLogicError

    w3 = _web3(project)
    vault, controller = (
        Web3.to_checksum_address(record["vault"]),
        Web3.to_checksum_address(record["controller"]),
    )
    problems = []

    def differs(what: str, address: str, made: bytes) -> None:
        if bytes(w3.eth.get_code(address)) != made:
            problems.append(f"{what} (its code differs: {RELEASE_TEXT})")

    try:
        module = str(_view(w3, ctrl_ct, controller, "adminModule"))
    except ContractLogicError:
        module = None  # a release before 0.2.0 created its own module
    if module is not None:
        differs(
            f"controller {controller}: its configuration module {module} is not this "
            f"release's AssetControllerAdmin made for the vault {vault}",
            module,
            _made(w3, module_ct, [vault]),
        )
        try:
            made = _made(
                w3, ctrl_ct, [vault, ANY_ADMIN, module, *_settings(w3, ctrl_ct, controller)]
            )
        except (ContractLogicError, ValueError) as err:
            problems.append(
                f"controller {controller}: this release's AssetController cannot be made for "
                f"the vault {vault} with the module {module} ({err}): {RELEASE_TEXT}"
            )
        else:
            differs(
                f"controller {controller}: not this release's AssetController made for the "
                f"vault {vault} with the module {module}",
                controller,
                made,
            )
    cash = record.get("cash") or _view(w3, vault_ct, vault, "asset")
    try:
        made = _made(w3, vault_ct, [Web3.to_checksum_address(str(cash)), "", "", ANY_ADMIN])
    except (ContractLogicError, ValueError) as err:
        problems.append(
            f"vault {vault}: this release's TieredVault cannot be made for the cash {cash} "
            f"({err}): {RELEASE_TEXT}"
        )
    else:
        differs(
            f"vault {vault}: not this release's TieredVault made for the cash {cash}",
            vault,
            made,
        )
    return problems


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
    and ``safe_at`` the Safe (both through ape by default; a web3 binding works the same: with
    ``w3`` and ``contract_type(name)``, the code of the vault, the controller and its module is
    checked too)."""
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
    h.held.extend(_code_problems(project, record))
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


# ------------------------------------------------------------------ the batch file, the check


def batch_line(
    h: Handover,
    chain_id: int,
    nonce: int,
    out: Any,
    *,
    created_at_ms: int,
    write: bool = True,
) -> str | None:
    """The Safe{Wallet} Transaction Builder batch of the calls left to the admin Safe, at the
    Safe's current ``nonce``: written to ``out`` (a Path; kept as it is when it already holds
    these calls at this nonce, so its checksum and date do not change), and the line that says
    where it is, how the Safe runs it, and the Safe nonce and SafeTx hash its owners must see.
    None when nothing is left to the Safe."""
    import json

    made = handover_batch(h, chain_id, nonce, created_at_ms)
    if made is None:
        return None
    batch, tx, tx_hash = made
    shown = f"0x{tx_hash.hex()}"
    if out is None or not write:
        where = "(dry run: not written)" if out is None else f"for {out} (not written)"
    else:
        current = None
        if out.exists():
            try:
                current = json.loads(out.read_text())
            except ValueError:
                current = None
        same = (
            isinstance(current, dict)
            and current.get("transactions") == batch["transactions"]
            and shown in str(current.get("meta", {}).get("description", ""))
        )
        if same:
            where = f"up to date in {out}"
        else:
            out.write_text(json.dumps(batch, indent=2) + "\n")
            where = f"written to {out}" if current is None else f"rewritten in {out}"
    how = "one CALL" if tx.operation == 0 else f"one MultiSendCallOnly batch ({tx.to})"
    return (
        f"Safe{{Wallet}} Transaction Builder batch {where}: {len(batch['transactions'])} "
        f"call(s) as {how}, Safe nonce {nonce}, SafeTx hash {shown}"
    )


def batch_path(record_path: Any) -> Any:
    """Where the deploy writes the hand-over batch: beside its record."""
    return record_path.with_name(record_path.stem + ".safe-batch.json")


EXIT_INCOMPLETE = 1  # `ape run handover`: calls left to the admin, or powers the deployer holds
EXIT_NO_RECORD = 2  # no complete record of this chain to check


def check_record(record_path: Any, *, write: bool = True, echo: Any = print) -> bool:
    """Prints the hand-over of the record at ``record_path`` as the chain has it now (and the
    Safe batch, written beside the record when ``write``). True when complete."""
    from ape import chain, project

    from ballast_dev.deployment.cli_support import exit_with
    from ballast_dev.deployment.record import RecordError, load_record

    if not record_path.exists():
        exit_with(f"--record {record_path}: no deployment record there", EXIT_NO_RECORD)
    try:
        record = load_record(record_path)
    except RecordError as e:
        exit_with(str(e), EXIT_NO_RECORD)
    if record.get("chain_id") != chain.chain_id:
        exit_with(
            f"{record_path} was written on chain {record.get('chain_id')}, connected to chain "
            f"{chain.chain_id}: connect to the deploy's network",
            EXIT_NO_RECORD,
        )
    if not record.get("complete"):
        exit_with(
            f"{record_path}: the deploy is not complete ({len(record.get('steps', []))} steps "
            "recorded): run the same deploy command again to resume it, then check the hand-over",
            EXIT_NO_RECORD,
        )
    admin = str(record["handover"]["admin"])
    deployer = str(record["deployer"])
    h = handover_status(project, record, deployer, admin)
    echo(f"deployment {record_path} (vault {record['vault']}), admin {admin}")
    echo(render(h))
    if h.safe is not None and h.todo:
        from ballast_dev.deployment.safe import at

        nonce = int(at(h.safe).call_view_method("nonce"))
        line = batch_line(
            h,
            chain.chain_id,
            nonce,
            batch_path(record_path),
            created_at_ms=int(time.time() * 1000),
            write=write,
        )
        if line is not None:
            echo(line)
    return h.complete
