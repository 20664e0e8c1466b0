"""The due runs' ``MoveCut`` events, read for the fund bot's event tick: a leg of the on-chain
rebalancer's move cut at its price bound. A cut's side is read from the log just before it in
its transaction: the controller hands back what was not filled right before it emits the event
(the cash token's transfer for a purchase, the asset's for a sale)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from web3 import Web3

from keepers.fund.planning.cuts import MoveCut
from keepers.runtime.alerts import AlertLevel


def read_move_cuts(
    controller: Any,
    w3: Web3,
    cash: str,
    symbol: Callable[[str | None], str],
    alert: Callable[..., Any],
    from_block: int,
    to_block: int,
) -> list[MoveCut]:
    """Every ``MoveCut`` from ``from_block`` to ``to_block``, each with a ``move_cut``
    warning naming the asset, asked and done."""
    logs = controller.events.MoveCut.get_logs(from_block=from_block, to_block=to_block)
    cash = cash.lower()
    cuts = []
    for lg in logs:
        token = str(lg["args"]["token"])
        receipt = w3.eth.get_transaction_receipt(lg["transactionHash"])
        before = [x for x in receipt["logs"] if int(x["logIndex"]) < int(lg["logIndex"])]
        purchase = bool(before) and str(before[-1]["address"]).lower() == cash
        cut = MoveCut(
            token,
            int(lg["args"]["asked"]),
            int(lg["args"]["done"]),
            purchase,
            Web3.to_hex(lg["transactionHash"]),
        )
        cuts.append(cut)
        side, unit = ("purchase", "cash") if purchase else ("sale", "tokens")
        alert(
            AlertLevel.WARNING,
            "move_cut",
            f"due run's {side} of {symbol(token)} ({token}) cut at its price bound: "
            f"asked {cut.asked}, done {cut.done} ({unit}); the rest ({cut.left}) joins the "
            "carry",
            None,
            token=token,
            asked=str(cut.asked),
            done=str(cut.done),
            tx=cut.tx_hash,
        )
    return cuts
