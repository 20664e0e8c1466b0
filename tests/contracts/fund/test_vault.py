import ape
import pytest


def test_deposit__lands_in_l1__shares_with_offset(
    vault, usdt, alice, fund_usdt, unit, base_decimals
):
    shares = vault.deposit(1000 * unit, alice, sender=alice).return_value
    assert usdt.balanceOf(vault) == 1000 * unit
    assert vault.freeCash() == 1000 * unit
    assert vault.totalAssets() == 1000 * unit
    assert vault.decimals() == base_decimals + 6
    assert shares == 1000 * unit * 10**6


def test_withdraw__from_l1__at_once(vault, usdt, alice, deposited, unit):
    before = usdt.balanceOf(alice)
    vault.withdraw(1000 * unit, alice, alice, sender=alice)
    assert usdt.balanceOf(alice) - before == 1000 * unit


def test_withdraw__above_available_cash__reverts_insufficient_cash(
    vault, controller, keeper, alice, deposited, unit
):
    controller.allocateToLayer(1, 400_000 * unit, sender=keeper)
    with ape.reverts(vault.InsufficientCash):
        vault.withdraw(700_000 * unit, alice, alice, sender=alice)


def test_withdraw_and_redeem__above_available_cash__name_the_amount_and_the_cash(
    vault, controller, keeper, alice, deposited, unit
):
    """One exit body serves both (`_exit`): each refuses what the free cash cannot pay, naming
    the assets asked (withdraw) or priced (redeem, at its preview) and the cash available."""
    controller.allocateToLayer(1, 400_000 * unit, sender=keeper)
    cash = vault.availableCash()
    with ape.reverts(vault.InsufficientCash, requested=cash + 1, available=cash):
        vault.withdraw(cash + 1, alice, alice, sender=alice)
    shares = vault.balanceOf(alice)
    priced = vault.previewRedeem(shares)
    assert priced > cash
    with ape.reverts(vault.InsufficientCash, requested=priced, available=cash):
        vault.redeem(shares, alice, alice, sender=alice)
    # at the edge both pay: the cash in full, the shares each side of the same price
    burnt = vault.previewWithdraw(cash)
    paid = vault.previewRedeem(burnt - 1)
    assert paid <= cash
    assert vault.redeem(burnt - 1, alice, alice, sender=alice).return_value == paid
    rest = vault.availableCash()
    expected = vault.previewWithdraw(rest)
    assert vault.withdraw(rest, alice, alice, sender=alice).return_value == expected
    assert vault.availableCash() == 0


def test_redemption_queue__request_fulfil_claim__erc7540_request_side(
    vault, controller, usdt, keeper, alice, bob, deposited, unit
):
    controller.allocateToLayer(1, 280_000 * unit, sender=keeper)
    controller.allocateToLayer(2, 580_000 * unit, sender=keeper)
    shares = vault.balanceOf(alice) // 2
    owed = vault.previewRedeem(shares)
    price_before = vault.convertToAssets(10**18)
    tx = vault.requestRedeem(shares, bob, alice, sender=alice)
    rid = tx.return_value
    # ERC-7540: the shares are locked in the vault, pending for the controller (bob)
    assert vault.balanceOf(vault) == shares
    assert vault.pendingRedeemRequest(rid, bob) == shares
    assert vault.pendingRedeemRequest(rid, alice) == 0
    assert vault.claimableRedeemRequest(rid, bob) == 0
    assert vault.pendingRedemptions() == owed
    assert vault.availableCash() == 0  # 140k cash is now earmarked for the queue
    # the shares are still in the supply: the remaining holders' price is unchanged
    assert vault.convertToAssets(10**18) == price_before
    with ape.reverts(vault.RequestNotClaimable):
        vault.claimRedemption(rid, bob, sender=bob)
    raised = controller.executeWaterfallLiquidation(owed, 2, sender=keeper).return_value
    assert raised >= owed - 140_000 * unit
    assert vault.redeemRequest(rid).status == 2  # Claimable
    assert vault.claimableRedeemRequest(rid, bob) == shares
    assert vault.balanceOf(vault) == 0  # burnt at fulfilment
    paid = vault.redeemRequest(rid).assets
    assert owed - 2 <= paid <= owed  # priced at fulfilment, never above the estimate
    assert vault.convertToAssets(10**18) >= price_before
    before = usdt.balanceOf(bob)
    vault.claimRedemption(rid, bob, sender=bob)
    assert usdt.balanceOf(bob) - before == paid
    with ape.reverts(vault.RequestNotClaimable):
        vault.claimRedemption(rid, bob, sender=bob)


def test_request_redeem__someone_else_without_allowance__reverts(vault, alice, attacker, deposited):
    with ape.reverts(vault.ERC20InsufficientAllowance):
        vault.requestRedeem(10**12, attacker, alice, sender=attacker)


def test_request_redeem__operator__requests_and_claims_for_controller(
    vault, usdt, keeper, alice, bob, attacker, deposited
):
    vault.setOperator(bob, True, sender=alice)
    assert vault.isOperator(alice, bob)
    rid = vault.requestRedeem(10**12, alice, alice, sender=bob).return_value
    vault.fulfilRedemptions(10, sender=keeper)
    with ape.reverts(vault.NotRequestParty):
        vault.claimRedemption(rid, attacker, sender=attacker)
    before = usdt.balanceOf(bob)
    vault.claimRedemption(rid, bob, sender=bob)  # the operator claims, to any receiver
    assert usdt.balanceOf(bob) > before
    vault.setOperator(bob, False, sender=alice)
    with ape.reverts(vault.ERC20InsufficientAllowance):
        vault.requestRedeem(10**12, alice, alice, sender=bob)


def test_supports_interface__answers_only_what_the_vault_implements(vault):
    from eth_utils import keccak

    def iface(*sigs: str) -> str:
        x = 0
        for s in sigs:
            x ^= int.from_bytes(keccak(text=s)[:4], "big")
        return "0x" + x.to_bytes(4, "big").hex()

    operator = iface("setOperator(address,bool)", "isOperator(address,address)")
    assert operator == "0xe3bc4e65" and vault.supportsInterface(operator)  # implemented as 7540
    assert vault.supportsInterface("0x01ffc9a7")  # ERC-165
    access = iface(
        "hasRole(bytes32,address)",
        "getRoleAdmin(bytes32)",
        "grantRole(bytes32,address)",
        "revokeRole(bytes32,address)",
        "renounceRole(bytes32,address)",
    )
    assert vault.supportsInterface(access)  # IAccessControl
    assert not vault.supportsInterface("0x620ee8e4")  # 7540 async redeem: claims are not redeem()
    assert not vault.supportsInterface("0x2f0a18c5")  # ERC-7575: no share()
    assert not vault.supportsInterface("0xffffffff")  # ERC-165's invalid id


def test_request_ids__start_at_1__id_0_is_never_a_request(vault, alice, attacker, deposited):
    """ERC-7540 gives request id 0 a meaning of its own (every request aggregated); the queue's
    ids start at 1, and id 0 reads empty and cannot be acted on."""
    first = vault.requestRedeem(10**12, alice, alice, sender=alice).return_value
    assert first == 1 and vault.nextRequestToFulfil() == 1
    assert vault.redeemRequestCount() == 2  # ids 1..count-1
    empty = vault.redeemRequest(0)
    assert (empty.shares, empty.assets, empty.status) == (0, 0, 0)
    assert vault.pendingRedeemRequest(0, alice) == 0
    for who in (alice, attacker):
        with ape.reverts(vault.NotRequestParty):
            vault.cancelRedeem(0, sender=who)
        with ape.reverts(vault.NotRequestParty):
            vault.claimRedemption(0, who, sender=who)


def test_claim__by_stranger__reverts_not_request_party(
    vault, controller, keeper, alice, attacker, deposited, unit
):
    rid = vault.requestRedeem(vault.balanceOf(alice) // 10, alice, alice, sender=alice).return_value
    vault.fulfilRedemptions(10, sender=keeper)
    with ape.reverts(vault.NotRequestParty):
        vault.claimRedemption(rid, attacker, sender=attacker)


def test_pause__guardian_pauses_admin_unpauses(
    vault, guardian, gov, alice, attacker, fund_usdt, unit
):
    vault.setDepositsPaused(True, sender=guardian)
    with ape.reverts(vault.DepositsPaused):
        vault.deposit(unit, alice, sender=alice)
    with ape.reverts(vault.AccessControlUnauthorizedAccount):
        vault.setDepositsPaused(False, sender=guardian)
    with ape.reverts(vault.AccessControlUnauthorizedAccount):
        vault.setWithdrawalsPaused(True, sender=attacker)
    vault.setDepositsPaused(False, sender=gov)
    vault.deposit(unit, alice, sender=alice)
    vault.setWithdrawalsPaused(True, sender=guardian)
    with ape.reverts(vault.WithdrawalsPaused):
        vault.withdraw(1, alice, alice, sender=alice)
    with ape.reverts(vault.WithdrawalsPaused):
        vault.requestRedeem(1, alice, alice, sender=alice)
    assert vault.maxWithdraw(alice) == 0


def test_pull_cash__not_controller__reverts(vault, attacker):
    with ape.reverts(vault.NotController):
        vault.pullCash(attacker, 1, sender=attacker)


def test_set_controller__twice__reverts(vault, deployer, attacker):
    with ape.reverts(vault.ControllerAlreadySet):
        vault.setController(attacker, sender=deployer)


def test_fulfil__stranger__reverts(vault, attacker):
    with ape.reverts(vault.AccessControlUnauthorizedAccount):
        vault.fulfilRedemptions(1, sender=attacker)


@pytest.mark.parametrize("donation_tokens", [10**3, 10**12, 10**18, 10**24])
def test_inflation_attack__1_wei_then_donation__attacker_no_profit(
    vault, usdt, attacker, alice, deployer, fund_usdt, unit, donation_tokens
):
    donation = donation_tokens  # raw base units, up to 1e24
    usdt.mint(attacker, donation + 1, sender=deployer)
    usdt.approve(vault.address, 2**256 - 1, sender=attacker)
    start = usdt.balanceOf(attacker)
    vault.deposit(1, attacker, sender=attacker)
    usdt.transfer(vault.address, donation, sender=attacker)
    victim_assets = 1000 * unit
    vault.deposit(victim_assets, alice, sender=alice)
    vault.redeem(vault.balanceOf(attacker), attacker, attacker, sender=attacker)
    attacker_loss = start - usdt.balanceOf(attacker)
    victim_loss = victim_assets - vault.convertToAssets(vault.balanceOf(alice))
    assert attacker_loss >= 0, "attacker profited"
    # the virtual offset makes the attack cost the attacker at least what the victim loses
    assert attacker_loss >= victim_loss
