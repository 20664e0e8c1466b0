"""A +15% feed step on an asset with a 5% step bound, on anvil (issue 54): the controller holds
the asset's valuation (priceHold); the keeper reads the hold beside the fund, raises one
`nav_jump` naming the asset, both prices and the step, plans nothing on that asset (and no tier
flow: the value is in doubt) while its other jobs go on; after the guardian's acceptPrice it
says `nav_jump_ended` and plans as usual."""

from __future__ import annotations

from prometheus_client import REGISTRY

from keepers.fund.planning.plan import PRICE_HELD
from tests.support.fundbotlib import NO_APPROVAL, UNIT, timelock_sender

NOW = 1_800_000_000


def test_price_held__nav_jump_once__holds_the_asset_back__plans_again_after_accept(
    make_bot, fresh, accounts, alerts
):
    guardian = accounts[3]
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    bot = make_bot(NO_APPROVAL)
    assert bot.check("liquidity", NOW).status == "executed"  # invested: TBILL-A is held
    sym = "TBILL-A"
    token = fresh.assets[sym].address
    feed = fresh.feeds[sym]
    fresh.controller.setPriceStepBound(token, 500, 0, sender=guardian)  # at once: a tightening
    fresh.vault.deposit(300_000 * UNIT, accounts[1], sender=accounts[1])  # L1 far over band
    reading = bot.read()
    assert reading.holds[token].bounded and not reading.held
    assert reading.fees is not None and reading.fees.price_per_share > 0
    answer = feed.latestAnswer()
    feed.updateAnswer(answer * 115 // 100, sender=accounts[0])  # the +15% step
    alerts.clear()

    reading = bot.read()
    (held,) = reading.held
    assert held.token == token and held.move_bps == 1_500 and held.allowed_bps == 500
    (asset,) = [a for a in reading.state.assets if a.token == token]
    assert asset.priced and asset.price_held and not asset.tradable
    out = bot.check("liquidity", NOW + 300)
    assert out.status == "nothing_to_do", out.detail  # L1 over band, but L3's value in doubt
    assert f"{PRICE_HELD}: {sym}: valuation held" in out.detail
    assert REGISTRY.get_sample_value("rebalance_valuation_held", {"asset": sym}) == 1
    assert REGISTRY.get_sample_value("rebalance_valuation_step_ratio", {"asset": sym}) == 0.15
    jumps = [a for a in alerts if a.code == "nav_jump"]
    assert len(jumps) == 1 and jumps[0].level == "critical"
    msg = jumps[0].message
    assert token in msg and sym in msg and "acceptPrice" in msg
    assert "answer 115 " in msg and "reference 100 " in msg and "+1500 bps" in msg

    # the other jobs run (a degraded state to say, never an exception)
    assert bot.check("threshold", NOW + 600).status != "network_error"
    bot.events(NOW + 600)
    bot.check("liquidity", NOW + 900)  # still held: not alerted again
    assert len([a for a in alerts if a.code == "nav_jump"]) == 1

    fresh.controller.acceptPrice(token, sender=guardian)  # the move is real
    out = bot.check("liquidity", NOW + 1_200)
    assert [a.code for a in alerts if a.code == "nav_jump_ended"] == ["nav_jump_ended"]
    assert out.status == "executed", out.detail  # the held-back rebalance goes ahead
    assert not bot.read().held
    assert REGISTRY.get_sample_value("rebalance_valuation_held", {"asset": sym}) == 0


def test_price_held__pending_plan_trading_the_asset__stale_with_the_reason(
    make_bot, fresh, chain, accounts
):
    """A plan waiting for approval buys an asset whose valuation the controller then holds: at
    its next tick it ends stale, saying which asset is held (its purchase would revert
    PriceHeld)."""
    bot = make_bot()  # approvals needed: the plan waits for the owners
    fresh.vault.deposit(1_000_000 * UNIT, accounts[1], sender=accounts[1])
    out = bot.check("liquidity", int(chain.pending_timestamp))
    assert out.status == "pending_approval", out
    symbols = {a.address: s for s, a in fresh.assets.items()}
    bought = [
        a.asset for a in bot.plans.plan(out.plan_id).actions if a.type.value == "purchaseAsset"
    ]
    sym = next(symbols[t] for t in bought if symbols.get(t) in fresh.feeds)
    token, feed = fresh.assets[sym].address, fresh.feeds[sym]
    fresh.controller.setPriceStepBound(token, 500, 0, sender=accounts[3])
    feed.updateAnswer(feed.latestAnswer() * 85 // 100, sender=accounts[0])  # the -15% step
    outs = bot.tick(int(chain.pending_timestamp))
    row = bot.plans.get(out.plan_id)
    assert row.status == "stale", (row.status, outs)
    assert f"{sym}: valuation held" in row.payload["ended"]["reason"], row.payload["ended"]


def test_price_held__holds_read_fails__not_known_never_ended_read_again_gauge_follows_the_bound(
    make_bot, fresh, accounts, alerts, monkeypatch
):
    """The holds batch fails once (a revert, the node) while an asset is held: the fund's read
    goes on with its holds "not read" (None), never "none held": no nav_jump_ended, and the next
    read asks again and still finds the hold (a failed read once latched "no holds" for the
    process's life). Once the bound is removed (the timelock), the held gauge reads 0 (it was
    written only for bounded assets, so it stayed 1 and FundValuationHeld paged on)."""
    from web3.exceptions import ContractLogicError

    import keepers.fund.reader as reader_mod
    from keepers.tx.retry import NetworkUnavailable

    guardian = accounts[3]
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    bot = make_bot(NO_APPROVAL)
    assert bot.check("liquidity", NOW).status == "executed"
    sym = "TBILL-A"
    token, feed = fresh.assets[sym].address, fresh.feeds[sym]
    fresh.controller.setPriceStepBound(token, 500, 0, sender=guardian)
    feed.updateAnswer(feed.latestAnswer() * 115 // 100, sender=accounts[0])
    bot.check("threshold", NOW + 60)
    assert [a.code for a in alerts if a.code == "nav_jump"] == ["nav_jump"]

    real = reader_mod.read_holds_and_fees
    for failure in (ContractLogicError("execution reverted"), NetworkUnavailable("node gone")):

        def failing(*_a, failure=failure, **_k):
            raise failure

        monkeypatch.setattr(reader_mod, "read_holds_and_fees", failing)
        reading = bot.read()
        assert reading.holds is None and reading.fees is None and reading.held == []
        out = bot.check("threshold", NOW + 120)  # the job runs on, nothing ended
        assert out.status != "network_error", out
        assert [a for a in alerts if a.code == "nav_jump_ended"] == []
        monkeypatch.setattr(reader_mod, "read_holds_and_fees", real)
        assert [h.token for h in bot.read().held] == [token]  # asked again: still held
    assert REGISTRY.get_sample_value("rebalance_valuation_held", {"asset": sym}) == 1

    timelock = timelock_sender(fresh, accounts)  # a loosening is the timelock's
    fresh.controller.setPriceStepBound(token, 0, 0, sender=timelock)
    bot.check("threshold", NOW + 180)
    assert REGISTRY.get_sample_value("rebalance_valuation_held", {"asset": sym}) == 0
    assert [a.code for a in alerts if a.code == "nav_jump_ended"] == ["nav_jump_ended"]
