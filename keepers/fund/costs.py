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

__all__ = ["fill_cost", "own_events", "receipt_cost"]


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


def own_events(contract: Any, event: str, receipt: Any) -> list[Any]:
    """``event``'s logs in ``receipt`` that ``contract`` itself emitted, decoded (a log that
    does not decode as it is dropped). web3's ``process_receipt`` decodes every log of the
    receipt with the event's topic, whoever emitted it: a token or a venue the transaction
    called could emit a ``Purchased`` of its own and have it counted as the fund's fill."""
    mine = str(contract.address).lower()
    logs = [lg for lg in receipt["logs"] if str(lg["address"]).lower() == mine]
    decoded: Iterable[Any] = getattr(contract.events, event)().process_receipt(
        {**receipt, "logs": logs}, errors=DISCARD
    )
    return list(decoded)


def receipt_cost(controller: Any, receipt: Any) -> int | None:
    """The summed cost of a transaction's fills (the controller's own events); None when it
    made none."""
    costs: list[int] = []
    block = int(receipt["blockNumber"])
    for event in ("Purchased", "Redeemed"):
        logs = own_events(controller, event, receipt)
        costs += [fill_cost(controller, event, lg["args"], block) for lg in logs]
    return sum(costs) if costs else None
