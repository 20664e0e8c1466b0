"""The self-custody guide (docs/operator/self-custody-automation.md), walked as written: every
Python block of the page runs in order, in one namespace, on a local chain, with the names its
skipped blocks load (your account, the scheduler, your position, the admin's) supplied here."""

from __future__ import annotations

from ape.utils import ZERO_ADDRESS

from tests.support.docs_examples import ROOT, examples

PAGE = ROOT / "docs" / "operator" / "self-custody-automation.md"
SKIP = "<!-- guide-walk: skip"
LOCAL_BASE_FEE = 400_000_000  # scripts/profiles/local.yaml


def _blocks() -> list[tuple[int, str, bool]]:
    """(fence line, code, skipped) of every python block of the page, in order."""
    lines = PAGE.read_text().split("\n")
    out = []
    for e in examples(PAGE.parent):
        if e.page.endswith(PAGE.name) and e.lang == "python":
            out.append((e.line, e.code, lines[e.line - 2].strip().startswith(SKIP)))
    return out


def test_guide__walked_as_written__every_step_holds(
    project, chain, accounts, deployer, gov, alice, bob
):
    blocks = _blocks()
    assert len(blocks) >= 8 and sum(skipped for *_, skipped in blocks) == 2
    scheduler = deployer.deploy(project.RebalanceScheduler, gov, 60, LOCAL_BASE_FEE, 0)
    ns = {
        "project": project,
        "chain": chain,
        "accounts": accounts,
        "ZERO_ADDRESS": ZERO_ADDRESS,
        "me": alice,
        "scheduler": scheduler,
        "position": deployer.deploy(project.TestPosition, alice),
        "admin": gov,
        "their_owner": bob,
        "their_position": deployer.deploy(project.TestPosition, bob),
    }
    ran = 0
    for line, code, skipped in blocks:
        if skipped:
            continue
        exec(compile(code, f"{PAGE.name}:{line}", "exec"), ns)  # noqa: S102 - the page's own code
        ran += 1
    assert ran == len(blocks) - 2
    # what the page left behind: the user's funder emptied, the paid rebalancer removed
    assert ns["funder"].balance == 0 and ns["rebalancer"].destroyed()
    assert ns["supervisor"].bookedRun()[0] != 0
