"""Part 1 of the demo (scripts/demo.py): deposits, invest to target, a drift, the keeper
account's ``rebalance(true)`` (behind the PlanExecutor, as a signed one-action plan)."""

from __future__ import annotations

import time
from typing import Any

from ballast_dev.deployment.fund import FundDeployment, fund_state
from ballast_dev.deployment.tables import fmt_bps
from ballast_dev.deployment.uniswap import UniswapV3, arbitrage_to_oracle


def prologue(fund: FundDeployment, accounts: Any, echo: Any) -> tuple[Any, Any, int]:
    """Part 1 of the demo: deposits, invest to target, a drift (TBILL-A -12% through the feed
    and the pool, a 3,000,000 deposit), the keeper account's ``rebalance(true)``. Returns the
    fund state before and after that call and its gas."""
    acct = accounts
    deployer, keeper = acct[0], acct[2]
    investors = [acct[4], acct[5], acct[6]]
    unit = 10 ** int(fund.cash.decimals())
    v, c = fund.vault, fund.controller
    t0 = time.monotonic()
    for who, amount in zip(investors, (2_000_000, 1_500_000, 1_000_000), strict=True):
        fund.cash.mint(who, 10_000_000 * unit, sender=deployer)
        fund.cash.approve(v, 2**256 - 1, sender=who)
        v.deposit(amount * unit, who, sender=who)
    echo(f"[{time.monotonic() - t0:5.1f}s] deposits: 4,500,000 USDT from 3 investors, all in L1")
    _keeper_rebalance(fund, keeper, "prologue-invest")
    echo(f"[{time.monotonic() - t0:5.1f}s] keeper invested to target: {_ratios(fund)}")
    dex = [s for s in fund.assets if s.startswith("TBILL")]
    uni = UniswapV3(
        fund.adapters["uniswap_factory"], fund.adapters["uniswap_router"], None, None, None
    )
    market = acct[7]  # an arbitrageur keeping the pools at the oracle price
    for sym in dex:
        fund.assets[sym].mint(market, 10**9 * 10**18, sender=deployer)
    fund.cash.mint(market, 10**12 * unit, sender=deployer)
    arbitrage_to_oracle(fund, uni, dex, market)
    # Drift 1: TBILL-A falls 12%: the feed reports it and the market trades the pool down too.
    feed = fund.feeds["TBILL-A"]
    feed.updateAnswer(feed.latestAnswer() * 88 // 100, sender=deployer)
    arbitrage_to_oracle(fund, uni, dex, market)
    # Drift 2: a 3,000,000 USDT deposit lands in L1.
    v.deposit(3_000_000 * unit, investors[0], sender=investors[0])
    c.mark(sender=keeper)
    before = fund_state(fund)
    echo(
        f"[{time.monotonic() - t0:5.1f}s] drift: TBILL-A -12% and a 3,000,000 USDT deposit: "
        f"{_ratios(fund)}"
    )
    tx = _keeper_rebalance(fund, keeper, "prologue-rebalance")
    return before, fund_state(fund), int(tx.gas_used)


def _keeper_rebalance(fund: FundDeployment, keeper: Any, tag: str) -> Any:
    """The keeper account's ``rebalance(true)``. Behind the PlanExecutor the keeper key holds
    no role on the controller: it sends the call as a one-action plan through the executor,
    and since the move is far above the executor's threshold, with the EIP-712 signatures of
    two Safe owners (alice, bob) over that exact plan."""
    c = fund.controller
    ex = fund.automation.get("plan_executor")
    if ex is None:
        return c.rebalance(True, sender=keeper)
    from eth_utils import keccak

    from ballast_dev.local.keystores import account_key
    from keepers.fund.planning.plan_approval import SignedPlan, sign_plan

    chain = keeper.chain_manager
    plan = SignedPlan(
        plan_id=keccak(text=f"{tag}-{chain.blocks.head.number}"),
        chain_id=chain.chain_id,
        executor=ex.address,
        controller=c.address,
        deadline=int(chain.pending_timestamp) + 3_600,
        actions=(bytes(c.rebalance.encode_input(True)),),
    )
    sigs = [sign_plan(plan, account_key(n)) for n in ("alice", "bob")]
    return ex.executeAction(
        plan.header(), 0, plan.actions[0], plan.action_hashes(), sigs, sender=keeper
    )


def _ratios(fund: FundDeployment) -> str:
    s = fund_state(fund)
    return " / ".join(f"L{i + 1} {fmt_bps(r)}" for i, r in enumerate(s.tierRatioBps))
