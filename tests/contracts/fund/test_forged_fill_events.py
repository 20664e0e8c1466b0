"""The keepers book a trade's cost from the fund's fill events (keepers.fund.costs: the cost budget,
the hostile months' ledger), and a venue the controller's move calls can emit the very same
events from its own address. Here TestForgedFill, behind TestHookedVenue's hook, emits a
``Purchased`` and a ``Redeemed`` in the middle of a real purchase: the receipt carries them beside
the controller's own ``Purchased``, decoded alike by web3, and what the keepers book is the
controller's fill alone (the keeper-side filter's unit test on hand-made logs:
tests/offchain/test_contract_at.py)."""

from __future__ import annotations

from web3.logs import DISCARD

from keepers.fund.costs import own_events, receipt_cost

FORGED_CASH = 10**30  # a fill that, counted, would blow any cost budget


def test_receipt_cost__a_venue_forges_fill_events_mid_purchase__only_the_controllers_booked(
    project, chain, hooked, controller, keeper, attacker, unit
):
    forger = attacker.deploy(project.TestForgedFill)
    hooked.arm(forger, forger.forge.encode_input(hooked, FORGED_CASH, 1), sender=attacker)
    tx = controller.purchaseAsset(hooked, 10_000 * unit, 0, sender=keeper)
    assert hooked.hookOk()  # the forger ran inside the controller's purchase

    w3 = chain.provider.web3
    abi = [a.model_dump(mode="json", by_alias=True) for a in controller.contract_type.abi]
    ctl = w3.eth.contract(address=controller.address, abi=abi)
    receipt = w3.eth.get_transaction_receipt(tx.txn_hash)
    emitters = {str(lg["address"]).lower() for lg in receipt["logs"]}
    assert {forger.address.lower(), controller.address.lower()} <= emitters

    # web3 alone decodes the forged events as the fund's: two Purchased, one Redeemed
    plain = list(ctl.events.Purchased().process_receipt(receipt, errors=DISCARD))
    assert len(plain) == 2 and {p["args"]["cashIn"] for p in plain} >= {FORGED_CASH}
    assert len(list(ctl.events.Redeemed().process_receipt(receipt, errors=DISCARD))) == 1

    # the keepers' reading: the controller's own Purchased, no Redeemed
    (own,) = own_events(ctl, "Purchased", receipt)
    assert own["address"] == controller.address and own["args"]["cashIn"] == 10_000 * unit
    assert own_events(ctl, "Redeemed", receipt) == []
    # the booked cost: that fill's shortfall against the controller's valuation at its block
    value = controller.valueOf(hooked, own["args"]["tokensOut"], block_id=receipt["blockNumber"])
    assert receipt_cost(ctl, receipt) == 10_000 * unit - value
    assert abs(receipt_cost(ctl, receipt)) < unit  # an ERC-4626 buy at its price: about 0
