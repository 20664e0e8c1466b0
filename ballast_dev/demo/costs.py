"""What a month of the fund's moves cost, judged from chain state: every Purchased and Redeemed
the controller emitted in a block range, priced at the controller's own ``valueOf`` in its block
(keepers.fund.costs.fill_cost, the rule the keeper's cost budget books), in base units and in
bps of the vault's NAV at that block; and the days a tier ended outside its band."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from keepers import abis
from keepers.core.amounts import format_amount
from keepers.fund.costs import fill_cost

BPS = 10_000


@dataclass(frozen=True)
class MonthCost:
    fills: int  # purchases and redemptions that traded (asynchronous ones fill at the oracle)
    lost: int  # base units, net of fills better than the oracle
    paid: int  # base units, the fills that cost something only (gains not netted)
    lost_bps: float  # sum over fills of cost / NAV at the fill's block, bps (for the report)
    worst_fill_bps: int  # the costliest fill against its own size

    def line(self, decimals: int) -> str:
        return (
            f"value lost to fills: {format_amount(self.lost, decimals, places=0, rounding='half_up')} "
            f"({self.lost_bps:.1f} bps of NAV) "
            f"over {self.fills} fills, worst fill {self.worst_fill_bps} bps"
        )


def month_cost(fund: Any, start_block: int, end_block: int) -> MonthCost:
    from ape import chain

    w3 = chain.provider.web3
    ctl = w3.eth.contract(address=fund.controller.address, abi=abis.load("AssetController"))
    vault = w3.eth.contract(address=fund.vault.address, abi=abis.load("TieredVault"))
    fills, lost, paid, lost_bps, worst = 0, 0, 0, 0.0, 0
    for event in ("Purchased", "Redeemed"):
        logs = getattr(ctl.events, event)().get_logs(from_block=start_block, to_block=end_block)
        for lg in logs:
            args, block = lg["args"], int(lg["blockNumber"])
            if args["pending"]:
                continue
            cost = fill_cost(ctl, event, args, block)
            size = int(args["cashIn"] if event == "Purchased" else args["cashOut"]) + max(0, cost)
            nav = int(vault.functions.totalAssets().call(block_identifier=block))
            fills += 1
            lost += cost
            paid += max(0, cost)
            lost_bps += cost * BPS / max(nav, 1)
            worst = max(worst, cost * BPS // max(size, 1))
    return MonthCost(fills, lost, paid, lost_bps, worst)


def days_out_of_band(days: list[float], ratios: list[tuple[int, int, int]], bands: Any) -> int:
    """Days whose last record (the end of the day, after the keepers answered) has a tier
    outside its band; day 0 (the deposits before the keepers start) is not counted."""
    last: dict[int, tuple[int, int, int]] = {}
    for day, r in zip(days, ratios, strict=True):
        if day >= 1:
            last[int(day)] = r
    return sum(
        1
        for r in last.values()
        if any(not lo <= x <= hi for x, (lo, hi) in zip(r, bands, strict=True))
    )
