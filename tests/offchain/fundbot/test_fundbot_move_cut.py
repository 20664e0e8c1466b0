"""Issue 47, "read what the contracts say": a due run's leg cut at its price bound (``MoveCut``)
raises a warning naming the asset, asked and done, and what it left joins the keeper's carry.
On anvil, with the deployed local fund: its two V3 pools pushed 3% above the oracle, a deposit,
and the controller's own rebalance (its swaps bounded at 1%) cuts their legs."""

from __future__ import annotations

from tests.support.fundbotlib import DEX, NO_APPROVAL, UNIT, push_pool

NOW = 1_800_000_000


def test_events__due_run_leg_cut__warning_names_asset_asked_done_and_rest_joins_carry(
    make_bot, fresh, accounts, alerts, market
):
    bot = make_bot(NO_APPROVAL)
    assert bot.events(NOW).status == "nothing_to_do"  # where the event tick starts
    fresh.vault.deposit(600_000 * UNIT, accounts[1], sender=accounts[1])
    for sym in DEX:
        push_pool(fresh, market, sym, 3)
    tx = fresh.controller.rebalance(True, sender=accounts[2])
    cuts = list(tx.decode_logs(fresh.controller.MoveCut))
    assert cuts, "no leg was cut: nothing to read"
    bot.events(NOW + 30)
    said = [a for a in alerts if a.code == "move_cut"]
    assert len(said) == len(cuts), said
    for a, cut in zip(said, cuts, strict=True):
        assert a.level.value == "warning"
        assert str(cut.token).lower() == a.detail["token"].lower()
        assert a.detail["asked"] == str(cut.asked) and a.detail["done"] == str(cut.done)
        assert f"asked {cut.asked}, done {cut.done}" in a.message
        assert bot.symbol(str(cut.token)) in a.message and "purchase" in a.message
    # the cash the cuts sent back is carried for the asset's tier
    state = bot.read().state
    left: dict[int, int] = {}
    for cut in cuts:
        t = state.asset(str(cut.token)).tier
        left[t] = left.get(t, 0) + cut.asked - cut.done
    carried = {r.tier: int(r.amount) for r in bot.carry.active()}
    assert carried == left, (carried, left)
    assert all("due run's" in r.reason for r in bot.carry.active())
