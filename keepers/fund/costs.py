"""What the fund's fills cost: a purchase's or a redemption's shortfall against the oracle, in
base units (I/O: the controller's own ``valueOf`` at the fill's block, the price its guards
used). The keeper books it on its off-chain cost budget (keepers.fund.bot), the hostile-month
harness sums it over a month (ballast_dev.demo.costs).

- Purchased(token, cashIn, tokensOut, pending): ``cashIn - valueOf(token, tokensOut)``;
- Redeemed(token, tokensIn, cashOut, pending): ``valueOf(token, tokensIn) - cashOut``;
- a pending (asynchronous) leg fills at the oracle by construction and costs 0 here.

A fill better than the oracle costs less than 0; the budget counts a plan's net cost,
floored at 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from web3.logs import DISCARD

__all__ = ["fill_cost", "receipt_cost"]


def fill_cost(controller: Any, event: str, args: Any, block: int) -> int:
    """The cost of one Purchased or Redeemed event (see the module docstring)."""
    if args["pending"]:
        return 0
    token = args["token"]
    if event == "Purchased":
        value = controller.functions.valueOf(token, int(args["tokensOut"])).call(
            block_identifier=block
        )
        return int(args["cashIn"]) - int(value)
    value = controller.functions.valueOf(token, int(args["tokensIn"])).call(block_identifier=block)
    return int(value) - int(args["cashOut"])


def receipt_cost(controller: Any, receipt: Any) -> int | None:
    """The summed cost of a transaction's fills; None when it made none."""
    costs: list[int] = []
    block = int(receipt["blockNumber"])
    for event in ("Purchased", "Redeemed"):
        logs: Iterable[Any] = getattr(controller.events, event)().process_receipt(
            receipt, errors=DISCARD
        )
        costs += [fill_cost(controller, event, lg["args"], block) for lg in logs]
    return sum(costs) if costs else None
