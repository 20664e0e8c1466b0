"""A frozen plan for the approval tests that need no chain (the console's pages, `keeper
approve`'s signature checks): two actions over a made-up executor and controller, its deadline
six hours after ``NOW``."""

from __future__ import annotations

from keepers.fund.planning.plan_approval import SignedPlan

NOW = 1_800_000_000
HOUR = 3_600
EXECUTOR = "0x" + "e1" * 20
CONTROLLER = "0x" + "c0" * 20


def frozen_plan(ref: str, chain_id: int = 31337, executor: str = EXECUTOR) -> SignedPlan:
    """The plan ``ref`` as the owners sign it: allocateToLayer then purchaseAsset calldata."""
    return SignedPlan(
        plan_id=SignedPlan.plan_id_for(ref),
        chain_id=chain_id,
        executor=executor,
        controller=CONTROLLER,
        deadline=NOW + 6 * HOUR,
        actions=(
            bytes.fromhex("5a3b74b9" + "00" * 31 + "01" + "00" * 28 + "0bebc200"),
            bytes.fromhex("e4b9a6e3" + "00" * 31 + "02"),
        ),
    )
