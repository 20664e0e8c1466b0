"""Each symbolic proof must fail on a mutation of the code it covers, or it may be proving
nothing (a vacuous assumption, a property that holds whatever the code does). This applies each
mutation below to a scratch copy of the sources, runs the proof it names there, and requires a
counterexample (halmos stops at the first one: ``--early-exit``; a mutant needs only one, and
without it halmos explored every other path of the mutant too). The real tree is never touched.

usage: python -m scripts.toolchain.prove_mutations [--only ID[,ID...]] [--list]
(``make prove`` runs it after the proofs.)"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Mutation:
    id: str
    file: str  # relative to the repository
    old: str  # exact text, found once
    new: str
    contract: str  # the proof contract (halmos --match-contract)
    test: str  # a substring of the check_ function (halmos --match-test)
    what: str  # the mutation in words


# The scheduler's escrow is proved in parts (tests/symbolic/Scheduler.t.sol says how they
# compose): one proof per operation after two bookings, and the two withdrawals over any prior
# state. Each part has a mutation below; before the split the cancel and withdrawal mutants took
# 44 s to over 10 minutes to a counterexample (whichever query halmos solved first), too varied
# for make prove to list them.
MUTATIONS: tuple[Mutation, ...] = (
    Mutation(
        "window-reset-half-period",
        "contracts/libraries/WindowBudgetLib.sol",
        "if (block.timestamp >= uint256(w.start) + period) {",
        "if (block.timestamp >= uint256(w.start) + period / 2) {",
        "WindowBudgetProofs",
        "twice_budget",
        "the tumbling window re-opens after half its period",
    ),
    Mutation(
        "window-accepts-budget-plus-one",
        "contracts/libraries/WindowBudgetLib.sol",
        "if (usedAfter > budget || usedAfter > type(uint192).max) {",
        "if (usedAfter > budget + 1 || usedAfter > type(uint192).max) {",
        "WindowBudgetProofs",
        "twice_budget",
        "the tumbling window accepts budget + 1",
    ),
    Mutation(
        "window-lowered-accepts-budget-plus-one",
        "contracts/libraries/WindowBudgetLib.sol",
        "if (usedAfter > budget || usedAfter > type(uint192).max) {",
        "if (usedAfter > budget + 1 || usedAfter > type(uint192).max) {",
        "WindowBudgetProofs",
        "lowered_budget",
        "the tumbling window lets one unit past a lowered budget",
    ),
    Mutation(
        "executor-no-done-bit",
        "contracts/fund/PlanExecutor.sol",
        "if (done & bit != 0) revert ActionAlreadyExecuted(planId, index);",
        "",
        "PlanExecutorProofs",
        "at_most_once",
        "the executor forgets to refuse an action that already ran",
    ),
    Mutation(
        "executor-counts-a-repeat",
        "contracts/fund/PlanExecutor.sol",
        "if (repeat) continue;",
        "",
        "PlanExecutorProofs",
        "two_distinct_owners",
        "countApprovals counts the same owner twice",
    ),
    Mutation(
        "executor-counts-a-stranger",
        "contracts/fund/PlanExecutor.sol",
        "if (!_safe.isOwner(signer)) continue;",
        "",
        "PlanExecutorProofs",
        "two_distinct_owners",
        "countApprovals counts a signer that is not an owner",
    ),
    Mutation(
        "executor-rebinds-the-plan",
        "contracts/fund/PlanExecutor.sol",
        "else if (bound != planHash) revert PlanChanged(planId, bound, planHash);",
        "",
        "PlanExecutorProofs",
        "edited_action",
        "the executor lets a plan id's hash list change after its first action",
    ),
    Mutation(
        "fix-trusts-a-due-run",
        "contracts/automation/RecurringTask.sol",
        "lt(timestamp(), and(shr(64, word), 0xffffffffff))",
        "1",
        "RecurringTaskProofs",
        "twice_equals_once",
        "fixReschedule's fast path trusts any booked run, due (and perhaps executed) or not",
    ),
    Mutation(
        "leaky-notional-unchecked",
        "contracts/fund/AssetControllerStorage.sol",
        "if (b > l.notionalBudget) revert NotionalBudgetExceeded(b, l.notionalBudget);",
        "",
        "LeakyBudgetProofs",
        "never_holds_more",
        "_useBudget books a move past the notional budget",
    ),
    Mutation(
        "drain-empties-at-half-window",
        "contracts/libraries/WindowBudgetLib.sol",
        "if (elapsed >= window) return 0;",
        "if (elapsed >= window / 2) return 0;",
        "WindowBudgetProofs",
        "drain_at_most_budget_rate",
        "the leaky bucket empties after half its window (drains up to twice its rate)",
    ),
    Mutation(
        "leaky-forgets-half-it-held",
        "contracts/fund/AssetControllerStorage.sol",
        "        a += lost;\n",
        "        a = a / 2 + lost;\n",
        "LeakyBudgetProofs",
        "span_step",
        "_useBudget forgets half of the loss it held before the move: every "
        "bucket stays within its budget and holds at least its latest use, so only the span "
        "step can tell",
    ),
    Mutation(
        "escrow-execute-pays-one-more",
        "contracts/automation/RebalanceScheduler.sol",
        "if (paid != 0) credits[msg.sender] += paid;",
        "if (paid != 0) credits[msg.sender] += paid + 1;",
        "SchedulerEscrowSlowProofs",
        "escrow_after_execute_one",
        "execute credits its executor one wei more than its pay, the run's fee less the share "
        "booked with it (owed out of another run's escrow)",
    ),
    Mutation(
        "escrow-batch-pays-one-more",
        "contracts/automation/RebalanceScheduler.sol",
        "if (total != 0) credits[msg.sender] += total;",
        "if (total != 0) credits[msg.sender] += total + 1;",
        "SchedulerEscrowSlowProofs",
        "escrow_after_execute_batch",
        "executeBatch credits its executor one wei more than the runs' pay",
    ),
    Mutation(
        "escrow-cancel-books-whole-fee",
        "contracts/automation/RebalanceScheduler.sol",
        "protocolFees += kept - booked;",
        "protocolFees += fee - booked;",
        "SchedulerEscrowSlowProofs",
        "escrow_after_cancel",
        "a cancel books the whole fee as protocol fees besides the refund (the tally exceeds what "
        "the scheduler holds for it)",
    ),
    Mutation(
        "escrow-protocol-keeps-tally",
        "contracts/automation/RebalanceScheduler.sol",
        "        uint256 amount = protocolFees;\n        protocolFees = 0;\n",
        "        uint256 amount = protocolFees;\n",
        "SchedulerWithdrawalProofs",
        "protocol_withdrawal",
        "withdrawProtocolFees leaves the fees on the books (withdrawable twice)",
    ),
    Mutation(
        "escrow-credit-not-zeroed",
        "contracts/automation/RebalanceScheduler.sol",
        "        credits[msg.sender] = 0;\n",
        "",
        "SchedulerWithdrawalProofs",
        "credit_withdrawal",
        "withdrawCredit pays the credit without zeroing it (withdrawable twice)",
    ),
)


def _scratch() -> Path:
    """A copy of what forge builds (contracts, the proofs, foundry.toml) beside links to the
    heavy, read-only parts (node_modules, the halmos venv)."""
    tmp = Path(tempfile.mkdtemp(prefix="ballast-mutant-"))
    for d in ("contracts", "tests/symbolic", "scripts/toolchain"):
        shutil.copytree(ROOT / d, tmp / d)
    shutil.copy(ROOT / "foundry.toml", tmp / "foundry.toml")
    for link in ("node_modules", ".venv-halmos"):
        os.symlink(ROOT / link, tmp / link)
    return tmp


def run(m: Mutation) -> tuple[bool, float, str]:
    """(caught, seconds, last line): caught when the proof fails on the mutant."""
    tmp = _scratch()
    try:
        path = tmp / m.file
        src = path.read_text()
        if src.count(m.old) != 1:
            return False, 0.0, f"mutation text found {src.count(m.old)} times in {m.file}"
        path.write_text(src.replace(m.old, m.new))
        t0 = time.monotonic()
        proc = subprocess.run(
            ["bash", "scripts/toolchain/prove.sh", "full", "--match-contract", m.contract,
             "--match-test", m.test, "--early-exit"],
            cwd=tmp, capture_output=True, text=True,
        )  # fmt: skip
        secs = time.monotonic() - t0
        out = proc.stdout + proc.stderr
        caught = proc.returncode != 0 and ("Counterexample" in out or "[FAIL]" in out)
        last = next(
            (ln for ln in reversed(out.splitlines()) if "[FAIL]" in ln or "[PASS]" in ln), ""
        )
        if not last:
            last = out.strip().splitlines()[-1] if out.strip() else "(no output)"
        return caught, secs, last
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated mutation ids")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.only or m.id in args.only.split(",")]
    if args.list or not chosen:
        for m in MUTATIONS:
            print(f"{m.id:<34} {m.contract}.{m.test}: {m.what}")
        return 0 if chosen else 2
    missed = 0
    for m in chosen:
        caught, secs, last = run(m)
        missed += not caught
        verdict = "caught" if caught else "MISSED"
        print(f"mutation {m.id:<34} {verdict} in {secs:5.1f} s  ({m.what})", flush=True)
        # caught: halmos' [FAIL] line, with its own time to the counterexample (the figure above
        # adds the build and prove.sh's other steps); missed: why
        print(f"    {last}", flush=True)
    print(f"mutations: {len(chosen) - missed}/{len(chosen)} caught by their proofs")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
