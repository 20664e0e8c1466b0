"""The demo's fund for the month tests (tests/offchain/demo): the profile `make demo` deploys,
with its Uniswap pools `depth_div` times shallower, deployed and through the demo's prologue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ballast_dev.demo.run import prologue
from ballast_dev.deployment.profile import deploy_profile
from scripts.demo import DEFAULT_PROFILE, demo_profile
from tests.support.fee_isolation import restore_washed

ROOT = Path(__file__).resolve().parents[2]


def demo_fund(accounts: Any, depth_div: int = 1) -> tuple[Any, Any]:
    """(fund, profile): deployed from the demo's profile with pools `depth_div` x shallower,
    after the prologue (deposits, invest to target, a drift and its correction)."""
    profile = demo_profile(str(ROOT / DEFAULT_PROFILE))
    assets = [
        a.model_copy(update={"pool_liquidity": a.pool_liquidity // depth_div})
        if a.kind == "uniswap"
        else a
        for a in profile.assets
    ]
    profile = profile.model_copy(update={"assets": assets})
    fund = deploy_profile(profile, accounts[0], accounts, log=lambda *_: None)
    prologue(fund, accounts, lambda *_: None)
    return fund, profile


def snapshot_with_base_fee(chain: Any) -> tuple[Any, int]:
    """A snapshot and the head's base fee at it, for :func:`restore_with_base_fee`."""
    return chain.snapshot(), int(chain.blocks.head.base_fee or 0)


def restore_with_base_fee(chain: Any, taken: tuple[Any, int]) -> None:
    """``chain.restore`` to a :func:`snapshot_with_base_fee`, and the node's base fee put back
    with it: the hostile month's gas spike (``anvil_setNextBlockBaseFeePerGas``) survives
    anvil's ``evm_revert`` (checked on anvil 1.7.1: a spike to 50 gwei on a node started at base
    fee 0, reverted, and the next block still priced 38 gwei, decaying from the spike), so every
    later module on the worker's node paid it (a ``gas_price=0`` transaction was refused, "max
    fee per gas less than block base fee"). The next block is priced at the base fee read when
    the snapshot was taken (0 on the tests' node), not at the head's after the restore: a block
    mined right after it (a transaction of the month's last moment) carries the spike. The
    month's blocks tipped up to 100 gwei under that spike: the restore washes anvil's
    fee-history cache of them (tests/support/fee_isolation.py's ``restore_washed``), so a
    later module's block at one of their numbers is not priced at their tips."""
    snap, base = taken
    restore_washed(chain, snap)
    chain.provider.make_request("anvil_setNextBlockBaseFeePerGas", [hex(base)])
