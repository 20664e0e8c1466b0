"""ERC4626Adapter: the venue a call names is approved for exactly what that call deposits (above
one base unit kept so the allowance's slot never empties), and nothing more is left standing;
no cash is kept.

Fourth review (info): anyone could make the adapter grant a venue a standing max approval (send
it one unit and call invest: the first deposit failed, the retry approved the maximum). The
adapter holds no cash between calls, but nothing should be able to pull from it later: each
deposit approves its own amount, and a venue that pulls less has the rest revoked."""

MAX = 2**256 - 1


def _approvals(tx, usdt, adapter):
    return [
        log
        for log in tx.decode_logs(usdt.Approval)
        if log.contract_address == usdt.address and log.owner == adapter.address
    ]


def test_erc4626_adapter__every_deposit__exact_allowance_spent_to_zero_and_no_cash_left_behind(
    fund, controller, vault, usdt, fund_usdt, alice, keeper, adapters, unit
):
    adapter = adapters["erc4626"]
    mmf = fund.assets["mmfA"]
    vault.deposit(1_000_000 * unit, alice, sender=alice)
    for amount in (10_000 * unit, 20_000 * unit):
        held, expected = mmf.balanceOf(controller), mmf.previewDeposit(amount)
        tx = controller.purchaseAsset(mmf, amount, 0, sender=keeper)
        assert [log.value for log in _approvals(tx, usdt, adapter)][0] == amount + 1
        assert usdt.allowance(adapter, mmf) == 1  # spent down to the unit kept
        assert mmf.balanceOf(controller) - held == expected
        assert usdt.balanceOf(adapter) == 0
        assert mmf.balanceOf(adapter) == 0


def test_erc4626_adapter__outsider_sends_a_unit_and_invests__no_standing_allowance(
    project, deployer, usdt, attacker, adapters, unit
):
    """The review's way to a standing maximum approval: one unit sent to the adapter, then
    invest. The deposit goes through (the unit ends in the venue, for the attacker's caller) and
    the venue may pull at most one unit afterwards (before: 2**256 - 1)."""
    adapter = adapters["erc4626"]
    venue = deployer.deploy(project.TestMoneyMarketFund, usdt, "fresh", "FRESH")
    usdt.mint(attacker, unit, sender=deployer)
    usdt.transfer(adapter, unit, sender=attacker)
    adapter.invest(venue, unit, sender=attacker)
    assert usdt.allowance(adapter, venue) <= 1
    assert venue.balanceOf(attacker) > 0


def test_erc4626_adapter__a_deposit_that_fails__reverts_with_the_funds_error_and_no_approval(
    project, deployer, usdt, attacker, adapters, unit
):
    """An outsider calling invest with no cash at the adapter gets the token's own error, and
    the approval goes with it."""
    import ape

    adapter = adapters["erc4626"]
    venue = deployer.deploy(project.TestMoneyMarketFund, usdt, "fresh", "FRESH")
    with ape.reverts(usdt.ERC20InsufficientBalance):
        adapter.invest(venue, 1_000 * unit, sender=attacker)
    assert usdt.allowance(adapter, venue) == 0
