"""The demo's reports (scripts/demo.py, the month tests): how the month ended (the verdict), the
report table, the fees minted and the holders' in-kind exit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ballast_dev.demo.world import Ledger
from ballast_dev.deployment.tables import fmt_bps, render_before_after
from keepers.core.amounts import format_amount


def pool_trade_routes(cx: Any) -> dict[str, int]:
    """The fund keeper's pool trades (intents with a private fee policy) counted by the route
    each sent attempt took (``private``: through the relay; ``public``: the public pool), on a
    SQLAlchemy connection to its store."""
    from sqlalchemy import text

    rows = cx.execute(
        text(
            "select a.route, count(*) from tx_attempts a join tx_intents i "
            "on a.intent_id = i.id where i.fee_policy like '%private%' "
            "and a.route is not null group by a.route"
        )
    ).all()
    return {str(route): int(n) for route, n in rows}


def verdict(ledger: Ledger, fund_db: Path, end: Any) -> tuple[bool, str]:
    """How the month ended, as one line: every tier in band, no plan blocked on two
    consecutive cycles, and the kill scene killed and recovered with one transaction per
    action."""
    from sqlalchemy import create_engine, text

    ratios = [int(r) for r in end.tierRatioBps]
    bands = [(int(t.minBps), int(t.maxBps)) for t in end.tiers]
    in_band = all(lo <= r <= hi for r, (lo, hi) in zip(ratios, bands, strict=True))
    eng = create_engine(f"sqlite:///{fund_db}")
    with eng.connect() as cx:
        statuses = [r[0] for r in cx.execute(text("select status from plans order by id")).all()]
        routes = pool_trade_routes(cx)
    eng.dispose()
    repeats = sum(1 for a, b in zip(statuses, statuses[1:], strict=False) if a == b == "blocked")
    # every pool trade through the private relay, none in the public pool
    private, public = int(routes.get("private", 0)), int(routes.get("public", 0))
    k = ledger.kill
    kill_ok = bool(
        k.get("killed")
        and k.get("status") == "executed"
        and k.get("transactions") == k.get("actions")
    )
    tiers = ", ".join(f"L{i + 1} {fmt_bps(r)}" for i, r in enumerate(ratios))
    head = "every tier in band" if in_band else "NOT every tier in band"
    if k.get("killed"):
        kill = (
            f"killed at {k['at']}, recovered with {k['transactions']} tx for "
            f"{k['actions']} actions (plan {k['status']})"
        )
    else:
        kill = f"NOT exercised ({k.get('error', 'never held at the kill point')})"
    blocked = f"; {repeats} plans blocked twice in a row" if repeats else ""
    routed = f"; pool trades: {private} sent through the private relay, {public} public"
    ok = in_band and kill_ok and repeats == 0 and public == 0
    return ok, f"VERDICT: {head} ({tiers}); kill scene: {kill}{blocked}{routed}"


def summary(ledger: Ledger, fund_db: Path, before: Any, after: Any) -> str:
    """The report table: plans by trigger and status, actions, approvals, gas, final ratios."""
    from sqlalchemy import create_engine, text

    eng = create_engine(f"sqlite:///{fund_db}")
    with eng.connect() as cx:
        plans = cx.execute(
            text("select trigger, status, count(*) from plans group by trigger, status")
        ).all()
        n_actions = cx.execute(text("select count(*) from actions")).scalar() or 0
        n_approvals = cx.execute(text("select count(*) from approvals")).scalar() or 0
        sent = (
            cx.execute(text("select count(*) from tx_intents where status = 'confirmed'")).scalar()
            or 0
        )
    eng.dispose()
    lines = ["plans by trigger", f"  {'trigger':<28}{'status':<18}{'plans':>6}"]
    for trig, status, n in sorted(plans, key=lambda r: (str(r[0]), str(r[1]))):
        lines.append(f"  {str(trig):<28}{str(status):<18}{n:>6}")
    lines.append(
        f"actions planned: {n_actions}   approvals recorded: {n_approvals}   transactions confirmed: {sent}"
    )
    lines.append(
        f"fund keeper gas paid: {format_amount(int(ledger.keeper_gas_wei), 18, places=4)} ETH"
    )
    lags = sorted(s for _, s in ledger.lags)
    if lags:
        p50, p95 = lags[len(lags) // 2], lags[min(len(lags) - 1, (len(lags) * 95) // 100)]
        lines.append(
            f"scheduled runs executed: {len(lags)}   lag p50 {p50}s, p95 {p95}s (1-second blocks)"
        )
    lines.append("")
    lines.append(render_before_after(before, after))
    return "\n".join(lines)


def fees_report(fund: Any) -> tuple[dict[str, int], str]:
    """The month's fees (issue 54): the recipient's shares and what they are worth at the exit
    price, fees pending now, the high-water mark against the price per share now (base tokens
    per whole share), and the rates. Reads only: a few calls, no log query."""
    vault = fund.vault
    recipient, mgmt, perf, _accrued_at = vault.fees()
    shares = int(vault.balanceOf(recipient))
    pending = int(vault.pendingFeeShares())
    total, supply = int(vault.totalAssets()), int(vault.totalSupply())
    hwm = int(vault.highWaterMark())
    price = (total + 1) * 10**24 // (supply + pending + 10**6)
    accrued = int(vault.convertToAssets(shares)) if shares else 0
    d = int(fund.cash.decimals())
    # paid to date (issue 67): every FeesAccrued of the month, the local chain's whole history
    logs = list(vault.FeesAccrued.range(0, vault.chain_manager.blocks.height + 1))
    minted = sum(int(lg.shares) for lg in logs)
    minted_at_mint = sum(int(lg.managementFee) + int(lg.performanceFee) for lg in logs)
    data = {"shares": shares, "accrued": accrued, "pending_shares": pending, "hwm": hwm,
            "price": price, "management_bps": int(mgmt), "performance_bps": int(perf),
            "minted_shares": minted, "minted_at_mint": minted_at_mint,
            "accruals": len(logs)}  # fmt: skip
    text = (
        f"fees ({int(mgmt) / 100:.2f}%/yr management, {int(perf) / 100:.2f}% performance, to "
        f"{recipient}): paid to date {format_amount(int(minted_at_mint), d, places=2)} when minted "
        f"({minted:,} shares in {len(logs)} accruals); held now {format_amount(int(accrued), d, places=2)} "
        f"({shares:,} shares), pending {pending:,} shares; high-water mark "
        f"{format_amount(int(hwm), 18, places=6)}, price per share now {format_amount(int(price), 18, places=6)}"
    )
    return data, text


def holders_report(fund: Any, share_bps: int = 100) -> tuple[dict[str, Any], str]:
    """What a holder leaving in kind gets now (issue 67): ``previewRedeemInKind`` for
    ``share_bps`` of the supply (cash and each token), and every valuation step the controller
    holds (``priceHold``: the asset, the step and the bound), or "none held"."""
    vault, controller = fund.vault, fund.controller
    d = int(fund.cash.decimals())
    shares = int(vault.totalSupply()) * share_bps // 10_000
    symbols = {str(t.address).lower(): s for s, t in fund.assets.items()}
    legs: list[tuple[str, int]] = []
    cash = 0
    if shares:
        cash, tokens, amounts = vault.previewRedeemInKind(shares)
        legs = [
            (symbols.get(str(t).lower(), str(t)), int(a))
            for t, a in zip(tokens, amounts, strict=True)
        ]
    holds = []
    for sym, token in fund.assets.items():
        h = controller.priceHold(token)
        if h[0]:
            holds.append((sym, int(h[3]), int(h[4])))
    paid = ", ".join(
        f"{format_amount(int(a), int(fund.assets[s].decimals()), s, places=4)}"
        for s, a in legs
        if a
    )
    lines = [
        f"in-kind exit of {share_bps / 100:g}% of the supply ({shares:,} shares) now: "
        f"{format_amount(int(cash), d, places=2)} cash"
        + (f" + {paid}" if paid else "")
        + " (0.5% penalty kept by the fund; no keeper, price or pause needed)"
    ]
    lines += [
        f"valuation held: {s} moved {m} bps, {a} bps allowed (entries refused, exits at the "
        "lower price, until the guardian's acceptPrice)"
        for s, m, a in holds
    ] or ["valuation holds: none"]
    data = {"shares": shares, "cash": int(cash), "legs": legs, "holds": holds}
    return data, "\n".join(lines)
