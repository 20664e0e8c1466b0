"""The emergency playbooks' Safe{Wallet} Transaction Builder batches (docs/playbooks/), made
from a deployment record and encoded against the ABIs of the current build, so that a batch
cannot go stale against the contracts: a renamed function or a changed argument list fails
here, and the committed examples (docs/playbooks/batches/) are regenerated and compared by
tests/offchain/docs/test_playbooks.py.

Each batch is what the admin Safe signs. A change the Safe may make at once (it holds the
controller's and the vault's ``ADMIN_ROLE``: only risk-reducing changes) is one batch; a
change that needs the timelock (``DEFAULT_ADMIN_ROLE``: risk-increasing changes, role grants
and revocations, feeds) is two: ``<name>.schedule.json`` (``schedule`` / ``scheduleBatch`` on
the timelock) and ``<name>.execute.json`` (``execute`` / ``executeBatch``, valid once the
delay has passed), both with the same calls, salt and predecessor.

Usage (from a checkout, after ``make compile``)::

    python -m ballast_dev.playbooks freeze-venue --record RECORD --asset MMF-B --out DIR
    python -m ballast_dev.playbooks raise-limits --record RECORD --asset MMF-A \\
        --cap 340282366920938463463374607431768211455 --max-concentration-bps 3500 \\
        --delay 0 --out DIR
    python -m ballast_dev.playbooks examples [--check]   # the committed examples

``RECORD`` is the deploy's record (``scripts/deployments/<ecosystem>-<network>.json``, the file
``KEEPER_DEPLOYMENT`` names): its ``safe``, ``timelock``, ``controller``, ``vault`` and
``assets`` (by symbol) are used; ``--safe`` names the Safe where the record has none. With
``--safe-nonce N`` each description also states the SafeTx hash the owners must see at that
nonce (one batch after another: N, N+1, ...).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_utils import keccak, to_checksum_address
from web3 import Web3

from ballast_dev.deployment import txbuilder as tb

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / ".build" / "__local__.json"
EXAMPLES = ROOT / "docs" / "playbooks" / "batches"
EXAMPLE_RECORD = EXAMPLES / "example-record.json"
EXAMPLE_CREATED_AT_MS = 1_798_761_600_000  # 2027-01-01T00:00:00Z: the examples never change
ZERO32 = "0x" + "00" * 32
KEEPER_ROLE = "0x" + keccak(text="KEEPER_ROLE").hex()
SENTINEL_OWNERS = "0x0000000000000000000000000000000000000001"  # the Safe's owner list head


class PlaybookError(ValueError):
    """A batch that cannot be made: the message names the option or record field."""


@cache
def _abi(name: str) -> list[dict[str, Any]]:
    """``name``'s ABI from the current build (``make compile``), or the Safe's npm artifact."""
    if name == "Safe":
        from ballast_dev.deployment.safe import NPM

        return list(NPM.artifact("SafeL2")["abi"])
    if not BUILD.exists():
        raise PlaybookError(f"{BUILD} missing: run `make compile`")
    types = json.loads(BUILD.read_text())["contractTypes"]
    if name not in types:
        raise PlaybookError(f"{name} is not in the build ({BUILD})")
    return list(types[name]["abi"])


def call(contract: str, to: str, fn: str, *args: Any) -> tb.SafeCall:
    """One call of ``contract.fn(args)`` at ``to``, encoded with the build's ABI (raises when
    the function or its arguments no longer exist)."""
    c = Web3().eth.contract(abi=_abi(contract))
    data = c.encode_abi(fn, list(args))
    shown = ", ".join(str(a) for a in args)
    return tb.SafeCall(
        to=to_checksum_address(to),
        data=bytes.fromhex(data.removeprefix("0x")),
        label=f"{contract}.{fn}({shown})",
    )


@dataclass(frozen=True)
class Batch:
    filename: str
    name: str
    purpose: str
    calls: tuple[tb.SafeCall, ...]


# ----------------------------------------------------------------------------- the batches


def _need(record: dict[str, Any], key: str) -> str:  # an address of the record
    v = record.get(key)
    if not v:
        raise PlaybookError(f"--record: the record has no {key!r}")
    return to_checksum_address(str(v))


def _asset(record: dict[str, Any], symbol: str | None, option: str = "--asset") -> str:
    assets = record.get("assets") or {}
    if not symbol:
        raise PlaybookError(f"{option}: an asset symbol is needed (known: {', '.join(assets)})")
    if symbol in assets:
        return to_checksum_address(str(assets[symbol]))
    if symbol.startswith("0x") and len(symbol) == 42:
        return to_checksum_address(symbol)
    raise PlaybookError(f"{option} {symbol!r}: not in the record (known: {', '.join(assets)})")


def _through_timelock(
    record: dict[str, Any], name: str, purpose: str, calls: Sequence[tb.SafeCall], a: Any
) -> list[Batch]:
    """``calls`` made by the timelock: a schedule batch and an execute batch for the Safe."""
    if a.delay is None:
        raise PlaybookError("--delay: the timelock's delay in seconds is needed (getMinDelay())")
    timelock = _need(record, "timelock")
    salt = a.salt or ZERO32
    targets = [c.to for c in calls]
    values = [c.value for c in calls]
    datas = [bytes(c.data) for c in calls]
    inner = "; ".join(c.label for c in calls)
    if len(calls) == 1:
        sched = call("FundTimelock", timelock, "schedule", targets[0], values[0], datas[0],
                     ZERO32, salt, a.delay)  # fmt: skip
        execute = call("FundTimelock", timelock, "execute", targets[0], values[0], datas[0],
                       ZERO32, salt)  # fmt: skip
    else:
        sched = call("FundTimelock", timelock, "scheduleBatch", targets, values, datas,
                     ZERO32, salt, a.delay)  # fmt: skip
        execute = call("FundTimelock", timelock, "executeBatch", targets, values, datas,
                       ZERO32, salt)  # fmt: skip
    what = f"[{inner}] salt {salt}"
    sched = tb.SafeCall(sched.to, sched.data, 0, f"FundTimelock.schedule {what}, delay {a.delay}")
    execute = tb.SafeCall(execute.to, execute.data, 0, f"FundTimelock.execute {what}")
    return [
        Batch(f"{name}.schedule.json", f"Ballast: {name} (schedule)",
              f"{purpose}: schedule on the timelock", (sched,)),
        Batch(f"{name}.execute.json", f"Ballast: {name} (execute)",
              f"{purpose}: execute on the timelock once its delay has passed", (execute,)),
    ]  # fmt: skip


def freeze_venue(record: dict[str, Any], a: Any) -> list[Batch]:
    ctl, token = _need(record, "controller"), _asset(record, a.asset)
    calls = [call("IAssetController", ctl, "setAssetLimits", token, 0, 0)]
    if a.default_to:
        if a.tier is None:
            raise PlaybookError("--tier: the tier (1 = L2, 2 = L3) of --default-to is needed")
        other = _asset(record, a.default_to, "--default-to")
        calls.append(call("IAssetController", ctl, "setDefaultAsset", a.tier, other))
    return [Batch("freeze-venue.json", "Ballast: freeze a venue",
                  f"No new money into {a.asset} (cap 0, concentration 0)", tuple(calls))]  # fmt: skip


def _limits(record: dict[str, Any], a: Any) -> tb.SafeCall:
    if a.cap is None or a.max_concentration_bps is None:
        raise PlaybookError("--cap and --max-concentration-bps are needed")
    ctl, token = _need(record, "controller"), _asset(record, a.asset)
    return call("IAssetController", ctl, "setAssetLimits", token, a.cap, a.max_concentration_bps)


def lower_limits(record: dict[str, Any], a: Any) -> list[Batch]:
    return [Batch("lower-limits.json", "Ballast: lower a venue's limits",
                  f"Lower {a.asset}'s cap and concentration (at once)", (_limits(record, a),))]  # fmt: skip


RISK_FIELDS = ("maxSlippageBps", "maxValueLossBps", "maxTop3Bps", "navMaxAge", "minMoveValue")


def raise_limits(record: dict[str, Any], a: Any) -> list[Batch]:
    """The asset's cap and concentration; with ``--risk-params``, the controller's risk
    parameters too (the whole struct, as ``riskParams()`` returns it), in one operation."""
    calls = [_limits(record, a)]
    purpose = f"Raise {a.asset}'s cap and concentration"
    if a.risk_params:
        try:
            values = [int(x) for x in a.risk_params.split(",")]
        except ValueError:
            values = []
        if len(values) != len(RISK_FIELDS):
            raise PlaybookError(
                f"--risk-params {a.risk_params!r}: {len(RISK_FIELDS)} integers, "
                f"{','.join(RISK_FIELDS)} (riskParams() in its order)"
            )
        calls.append(call("IAssetController", _need(record, "controller"), "setRiskParams",
                          tuple(values)))  # fmt: skip
        purpose += " and set the risk parameters"
    return _through_timelock(record, "raise-limits", purpose + " (risk-increasing)", calls, a)


def delist(record: dict[str, Any], a: Any) -> list[Batch]:
    ctl, token = _need(record, "controller"), _asset(record, a.asset)
    return [Batch("delist.json", "Ballast: de-list a venue",
                  f"De-list {a.asset} (its position is dust)",
                  (call("IAssetController", ctl, "removeAsset", token),))]  # fmt: skip


def write_off(record: dict[str, Any], a: Any) -> list[Batch]:
    if a.dust_value is None or a.restore_dust_value is None:
        raise PlaybookError("--dust-value and --restore-dust-value (base units) are needed")
    ctl, token = _need(record, "controller"), _asset(record, a.asset)
    calls = [
        call("IAssetController", ctl, "setDustValue", a.dust_value),
        call("IAssetController", ctl, "removeAsset", token),
        call("IAssetController", ctl, "setDustValue", a.restore_dust_value),
    ]
    purpose = f"Write {a.asset}'s remaining position off and de-list it (a loss to holders)"
    return _through_timelock(record, "write-off", purpose, calls, a)


def use_fallback_feed(record: dict[str, Any], a: Any) -> list[Batch]:
    ctl, token = _need(record, "controller"), _asset(record, a.asset)
    return [Batch("use-fallback-feed.json", "Ballast: switch to the fallback feed",
                  f"Price {a.asset} with its pre-approved fallback feed",
                  (call("IAssetController", ctl, "useFallbackFeed", token),))]  # fmt: skip


def _feed_args(a: Any) -> tuple[str, int, int, int]:
    if not a.feed or a.heartbeat is None or a.min_answer is None or a.max_answer is None:
        raise PlaybookError("--feed, --heartbeat, --min-answer and --max-answer are needed")
    return to_checksum_address(a.feed), a.heartbeat, a.min_answer, a.max_answer


def replace_feed(record: dict[str, Any], a: Any) -> list[Batch]:
    ctl, token = _need(record, "controller"), _asset(record, a.asset)
    c = call("IAssetController", ctl, "setFeed", token, *_feed_args(a))
    return _through_timelock(record, "replace-feed", f"Price {a.asset} with a new feed", [c], a)


def approve_fallback_feed(record: dict[str, Any], a: Any) -> list[Batch]:
    ctl, token = _need(record, "controller"), _asset(record, a.asset)
    c = call("IAssetController", ctl, "setFallbackFeed", token, *_feed_args(a))
    purpose = f"Approve a fallback feed for {a.asset} (the guardian switches to it at once)"
    return _through_timelock(record, "approve-fallback-feed", purpose, [c], a)


def pause_fund(record: dict[str, Any], a: Any) -> list[Batch]:
    ctl = _need(record, "controller")
    return [Batch("pause.json", "Ballast: pause the controller",
                  "Stop every move of money between tiers",
                  (call("IAssetController", ctl, "pause"),))]  # fmt: skip


def unpause_fund(record: dict[str, Any], a: Any) -> list[Batch]:
    ctl = _need(record, "controller")
    return [Batch("unpause.json", "Ballast: unpause the controller",
                  "Let the keeper move money again",
                  (call("IAssetController", ctl, "unpause"),))]  # fmt: skip


def rotate_keeper(record: dict[str, Any], a: Any) -> list[Batch]:
    if not a.old or not a.new:
        raise PlaybookError("--old and --new (the stolen and the new keeper account) are needed")
    old, new = to_checksum_address(a.old), to_checksum_address(a.new)
    executor = (record.get("automation") or {}).get("plan_executor")
    # where the keeper key holds KEEPER_ROLE: the PlanExecutor where deployed (the controller's
    # KEEPER_ROLE is then the executor's), else the controller; and the vault (fulfilment)
    holders = [("PlanExecutor", str(executor))] if executor else []
    if not executor:
        holders.append(("AssetController", _need(record, "controller")))
    holders.append(("TieredVault", _need(record, "vault")))
    calls: list[tb.SafeCall] = []
    for contract, address in holders:
        calls.append(call(contract, address, "revokeRole", KEEPER_ROLE, old))
        calls.append(call(contract, address, "grantRole", KEEPER_ROLE, new))
    purpose = f"Take KEEPER_ROLE from {old} and give it to {new}"
    return _through_timelock(record, "rotate-keeper", purpose, calls, a)


def initiate_closing(record: dict[str, Any], a: Any) -> list[Batch]:
    """Issue 67: the wind-down's one timelocked call (no entries from then on, for ever)."""
    vault = _need(record, "vault")
    purpose = "Start the fund's wind-down: no entries from here on, the keeper sells toward cash"
    return _through_timelock(
        record, "initiate-closing", purpose, [call("TieredVault", vault, "initiateClosing")], a
    )


def close_fund(record: dict[str, Any], a: Any) -> list[Batch]:
    """Issue 67: close() is anyone's once what is left is cash; the Safe may send it too."""
    vault = _need(record, "vault")
    return [Batch("close.json", "Ballast: close the fund",
                  "Fix the price per share once the controller values nothing (anyone may send it)",
                  (call("TieredVault", vault, "close"),))]  # fmt: skip


def _executor(record: dict[str, Any]) -> str:
    ex = (record.get("automation") or {}).get("plan_executor") or record.get("plan_executor")
    if not ex:
        raise PlaybookError("--record: no plan_executor in the record (a Safe profile's deploy)")
    return to_checksum_address(str(ex))


def lock_executor(record: dict[str, Any], a: Any) -> list[Batch]:
    """Every plan needs the owners' signatures: threshold 0, unapproved budget 0 (at once)."""
    if a.period is None:
        raise PlaybookError("--period: the executor's unapproved period now (unapprovedBudget())")
    ex = _executor(record)
    calls = [
        call("PlanExecutor", ex, "setApprovalThreshold", 0),
        call("PlanExecutor", ex, "setUnapprovedBudget", 0, a.period),
    ]
    purpose = "The keeper key alone moves nothing: every plan needs the owners' signatures"
    if a.unpause:  # after the guardian's pause: the fund moves again, on signed plans only
        calls.append(call("IAssetController", _need(record, "controller"), "unpause"))
        purpose += "; then unpause the controller"
    return [Batch("lock-executor.json", "Ballast: every plan needs the owners", purpose,
                  tuple(calls))]  # fmt: skip


def restore_executor(record: dict[str, Any], a: Any) -> list[Batch]:
    if a.approval_threshold is None or a.unapproved_budget is None or a.period is None:
        raise PlaybookError("--approval-threshold, --unapproved-budget and --period are needed")
    ex = _executor(record)
    calls = [
        call("PlanExecutor", ex, "setApprovalThreshold", a.approval_threshold),
        call("PlanExecutor", ex, "setUnapprovedBudget", a.unapproved_budget, a.period),
    ]
    purpose = "Let the keeper run small plans without signatures again (risk-increasing)"
    return _through_timelock(record, "restore-executor", purpose, calls, a)


def swap_owner(record: dict[str, Any], a: Any) -> list[Batch]:
    if not a.owners or not a.old or not a.new:
        raise PlaybookError("--owners (getOwners(), in its order), --old and --new are needed")
    safe = a.safe or _need(record, "safe")
    owners = [to_checksum_address(o) for o in a.owners.split(",")]
    old, new = to_checksum_address(a.old), to_checksum_address(a.new)
    if old not in owners:
        raise PlaybookError(f"--old {old}: not among --owners")
    i = owners.index(old)
    prev = SENTINEL_OWNERS if i == 0 else owners[i - 1]
    return [Batch("swap-owner.json", "Ballast: replace a Safe owner",
                  f"Replace the owner {old} by {new} (threshold unchanged)",
                  (call("Safe", safe, "swapOwner", to_checksum_address(prev), old, new),))]  # fmt: skip


BATCHES: dict[str, Callable[[dict[str, Any], Any], list[Batch]]] = {
    "freeze-venue": freeze_venue,
    "lower-limits": lower_limits,
    "raise-limits": raise_limits,
    "delist": delist,
    "write-off": write_off,
    "use-fallback-feed": use_fallback_feed,
    "replace-feed": replace_feed,
    "approve-fallback-feed": approve_fallback_feed,
    "pause": pause_fund,
    "unpause": unpause_fund,
    "rotate-keeper": rotate_keeper,
    "lock-executor": lock_executor,
    "restore-executor": restore_executor,
    "swap-owner": swap_owner,
    "initiate-closing": initiate_closing,
    "close": close_fund,
}

# The committed examples (docs/playbooks/batches/), made from example-record.json: the command
# line of each, as a reader would type it (the record and --out added).
EXAMPLE_ARGS: tuple[tuple[str, ...], ...] = (
    ("freeze-venue", "--asset", "MMF-B", "--default-to", "MMF-A", "--tier", "1"),
    ("lower-limits", "--asset", "TBILL-A", "--cap", "400000000000",
     "--max-concentration-bps", "2500"),
    ("raise-limits", "--asset", "MMF-A", "--cap", "340282366920938463463374607431768211455",
     "--max-concentration-bps", "3500", "--risk-params", "500,300,7000,3600,10000000000",
     "--delay", "172800"),
    ("delist", "--asset", "MMF-B"),
    ("write-off", "--asset", "PRIVCRED", "--dust-value", "50000000000",
     "--restore-dust-value", "1000000", "--delay", "172800"),
    ("use-fallback-feed", "--asset", "TBILL-A"),
    ("replace-feed", "--asset", "TBILL-A", "--feed", "0x00000000000000000000000000000000000FEED1",
     "--heartbeat", "86400", "--min-answer", "9000000000", "--max-answer", "11000000000",
     "--delay", "172800"),
    ("approve-fallback-feed", "--asset", "TBILL-A",
     "--feed", "0x00000000000000000000000000000000000FEED2", "--heartbeat", "86400",
     "--min-answer", "9000000000", "--max-answer", "11000000000", "--delay", "172800"),
    ("pause",),
    ("unpause",),
    ("rotate-keeper", "--old", "0x00000000000000000000000000000000000B0B01",
     "--new", "0x000000000000000000000000000000000000CAFE", "--delay", "172800"),
    ("lock-executor", "--period", "86400", "--unpause"),
    ("restore-executor", "--approval-threshold", "200000000000", "--unapproved-budget",
     "400000000000", "--period", "86400", "--delay", "172800"),
    ("swap-owner", "--owners", "0x000000000000000000000000000000000000A11C,"
     "0x0000000000000000000000000000000000000B0B,0x00000000000000000000000000000000000CA201",
     "--old", "0x0000000000000000000000000000000000000B0B",
     "--new", "0x0000000000000000000000000000000000000DA7"),
    ("initiate-closing", "--delay", "172800"),
    ("close",),
)  # fmt: skip


# ----------------------------------------------------------------------------- files


def batch_files(
    record: dict[str, Any], batches: Sequence[Batch], *, safe: str, nonce: int | None,
    created_at_ms: int,
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Each batch as its Transaction Builder file (by file name)."""
    chain_id = int(record.get("chain_id") or 1)
    multisend = str(record.get("safe_multisend") or tb.MULTISEND_CALL_ONLY)
    out: dict[str, dict[str, Any]] = {}
    for i, b in enumerate(batches):
        tx = tb.safe_transaction(b.calls, multisend)
        if nonce is None:
            what = "; ".join(c.label for c in b.calls)
            description = f"{b.purpose}: {what}"
        else:
            h = tb.safe_tx_hash(chain_id, safe, tx, nonce + i)
            description = tb.describe(b.purpose, b.calls, tx, nonce + i, h)
        out[b.filename] = tb.batch_file(
            chain_id, safe, b.calls, name=b.name, description=description,
            created_at_ms=created_at_ms,
        )  # fmt: skip
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ballast_dev.playbooks", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("batch", choices=[*BATCHES, "examples"])
    p.add_argument("--record", type=Path, help="the deployment record (JSON)")
    p.add_argument("--out", type=Path, default=Path("."), help="folder for the batch files")
    p.add_argument("--safe", help="the admin Safe (default: the record's `safe`)")
    p.add_argument("--safe-nonce", type=int, help="state the SafeTx hash at this Safe nonce")
    p.add_argument("--created-at-ms", type=int, help="the file's createdAt (default: now)")
    p.add_argument("--check", action="store_true", help="examples: compare, write nothing")
    p.add_argument("--asset", help="the asset's symbol in the record (or its address)")
    p.add_argument("--default-to", help="freeze-venue: the tier's new default asset")
    p.add_argument("--tier", type=int, help="freeze-venue: --default-to's tier (1 L2, 2 L3)")
    p.add_argument("--cap", type=int, help="the asset's cap (base units)")
    p.add_argument("--max-concentration-bps", type=int)
    p.add_argument("--risk-params", help="raise-limits: riskParams() to set, comma-separated: "
                   + ",".join(RISK_FIELDS))  # fmt: skip
    p.add_argument("--dust-value", type=int, help="write-off: the dust value (base units)")
    p.add_argument("--restore-dust-value", type=int, help="write-off: the dust value after")
    p.add_argument("--feed")
    p.add_argument("--heartbeat", type=int)
    p.add_argument("--min-answer", type=int)
    p.add_argument("--max-answer", type=int)
    p.add_argument("--old", help="the account taken out (keeper or Safe owner)")
    p.add_argument("--new", help="the account put in")
    p.add_argument("--approval-threshold", type=int, help="restore-executor (base units)")
    p.add_argument("--unapproved-budget", type=int, help="restore-executor (base units)")
    p.add_argument("--period", type=int, help="the executor's unapproved period (seconds)")
    p.add_argument("--unpause", action="store_true", help="lock-executor: and unpause")
    p.add_argument("--owners", help="swap-owner: the Safe's getOwners(), comma-separated")
    p.add_argument("--delay", type=int, help="timelock batches: the delay (>= getMinDelay())")
    p.add_argument("--salt", help="timelock batches: bytes32 (default 0; change it to schedule "
                   "the same calls again)")  # fmt: skip
    return p


def make(argv: Sequence[str], record: dict[str, Any], created_at_ms: int) -> dict[str, Any]:
    a = parser().parse_args(list(argv))
    safe = a.safe or record.get("safe")
    if not safe:
        raise PlaybookError("--safe: the record names no Safe (`safe`): give the admin Safe")
    batches = BATCHES[a.batch](record, a)
    return batch_files(record, batches, safe=str(safe), nonce=a.safe_nonce,
                       created_at_ms=created_at_ms)  # fmt: skip


def _dump(batch: dict[str, Any]) -> str:
    return json.dumps(batch, indent=2) + "\n"


def examples(check: bool) -> list[str]:
    """Regenerates the committed examples; with ``check``, the names of those that differ
    (missing, stale or left over) and nothing written."""
    record = json.loads(EXAMPLE_RECORD.read_text())
    want: dict[str, str] = {}
    for args in EXAMPLE_ARGS:
        for name, batch in make(args, record, EXAMPLE_CREATED_AT_MS).items():
            want[name] = _dump(batch)
    have = {p.name for p in EXAMPLES.glob("*.json") if p != EXAMPLE_RECORD}
    bad = sorted(n for n in want if not (EXAMPLES / n).exists()
                 or (EXAMPLES / n).read_text() != want[n])  # fmt: skip
    bad += sorted(have - set(want))
    if not check:
        for n in have - set(want):
            (EXAMPLES / n).unlink()
        for n, text in want.items():
            (EXAMPLES / n).write_text(text)
    return bad


def main(argv: Sequence[str] | None = None) -> int:
    import time

    args = list(sys.argv[1:] if argv is None else argv)
    a = parser().parse_args(args)
    try:
        if a.batch == "examples":
            bad = examples(a.check)
            if a.check and bad:
                print(f"stale playbook batches in {EXAMPLES}: {', '.join(bad)}: run "
                      "`python -m ballast_dev.playbooks examples`", file=sys.stderr)  # fmt: skip
                return 1
            print(f"playbook batches in {EXAMPLES}: " + ("current" if a.check else "written"))
            return 0
        if a.record is None:
            raise PlaybookError("--record: the deployment record is needed")
        record = json.loads(a.record.read_text())
        made = make(args, record, a.created_at_ms or int(time.time() * 1000))
    except PlaybookError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    a.out.mkdir(parents=True, exist_ok=True)
    for name, batch in made.items():
        (a.out / name).write_text(_dump(batch))
        n = len(batch["transactions"])
        print(f"{a.out / name}: {n} call(s) for Safe {batch['meta']['createdFromSafeAddress']}"
              f" on chain {batch['chainId']}: {batch['meta']['description']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
