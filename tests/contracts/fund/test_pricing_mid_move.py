"""Users' pricing refuses while a move is under way (issue 45, the integrator's review): between
a move's first step (the vault's cash out to an adapter, or a venue's tokens out) and its mark,
pricingValues() would answer from the mark taken before the move, which counts neither the cash
in flight nor the units not yet marked. A listed token or venue with a transfer hook (an
ERC-777-style or upgradeable token; listing one is the timelock's call) could then let its
owner enter or leave at that wrong price in the middle of the move. The controller refuses to
price then (`MovesUnderWay`), so the vault refuses entries (FeedDown) and prices exits at its
cash alone (less than the holder's due: a loss only to whoever re-entered)."""


def test_deposit_from_a_venue_hook_mid_purchase__refused(
    project, vault, controller, hooked, usdt, keeper, attacker, deployer, unit
):
    """The attacker's contract holds 200,000 and arms the venue's hook with a deposit; the keeper
    buys 100,000 of the hooked venue (the vault's cash is already at the adapter when the venue
    mints its shares to the controller). The deposit inside the move is refused; the same
    deposit after the move gets the shares the post-move price gives."""
    caller = deployer.deploy(project.TestMidMoveCaller)
    usdt.mint(caller, 200_000 * unit, sender=deployer)
    caller.exec(usdt, usdt.approve.encode_input(vault, 2**256 - 1), sender=attacker)
    hooked.arm(
        caller,
        caller.exec.encode_input(vault, vault.deposit.encode_input(200_000 * unit, caller)),
        sender=attacker,
    )
    controller.purchaseAsset(hooked, 100_000 * unit, 0, sender=keeper)
    assert hooked.hookOk() is False, "a deposit went through in the middle of a move"
    assert vault.balanceOf(caller) == 0
    # after the move the same deposit is priced at the fund as the move left it
    before = vault.totalAssets()
    caller.exec(vault, vault.deposit.encode_input(200_000 * unit, caller), sender=attacker)
    got = vault.previewRedeem(vault.balanceOf(caller))
    assert got <= 200_000 * unit, "the depositor's shares are worth more than he paid"
    assert vault.totalAssets() >= before + 200_000 * unit - 2


def test_pricing_views_mid_move__refuse_and_after_it_answer(
    vault, controller, hooked, keeper, attacker, unit
):
    """The hook reads pricingValues() mid-move: refused with MovesUnderWay (written in assembly
    for the size limit: its selector checked here); afterwards it answers again, and the cheap
    path and the live pass agree."""
    hooked.arm(controller, controller.pricingValues.encode_input(), sender=attacker)
    controller.purchaseAsset(hooked, 1_000 * unit, 0, sender=keeper)
    assert hooked.hookOk() is False
    from eth_utils import keccak

    assert bytes(hooked.hookReturn()) == keccak(text="MovesUnderWay()")[:4]  # the assembly revert
    assert controller.pricingValues() == controller.livePricingValues()


def test_redeem_from_a_venue_hook_mid_purchase__priced_at_the_vaults_cash_alone(
    project, vault, controller, hooked, usdt, keeper, attacker, alice, deployer, unit
):
    """An exit inside the move is not refused (exits stay open in an outage too) but priced with
    nothing invested: the re-entering holder gets less than his shares' worth, the holders
    who stay gain it. Here 1% of alice's shares, sent to the attacker's contract first."""
    caller = deployer.deploy(project.TestMidMoveCaller)
    shares = vault.balanceOf(alice) // 100
    vault.transfer(caller, shares, sender=alice)
    worth = vault.previewRedeem(shares)
    hooked.arm(
        caller,
        caller.exec.encode_input(vault, vault.redeem.encode_input(shares, caller, caller)),
        sender=attacker,
    )
    controller.purchaseAsset(hooked, 100_000 * unit, 0, sender=keeper)
    assert hooked.hookOk() is True
    assert usdt.balanceOf(caller) < worth // 2, (usdt.balanceOf(caller), worth)
