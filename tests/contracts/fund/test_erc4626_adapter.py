"""ERC4626Adapter: one standing allowance per fund, set on the first deposit, and no cash kept.
The deposit is tried first and the allowance read only when it fails (about 1,900 gas a leg:
the forced rebalance at 16 assets -30,000; the first deposit into a fund pays its failed try once).

Issue 45 (rebalance gas): approving the exact amount before every deposit wrote and cleared a
fresh allowance slot on each leg of a rebalance (about 22k gas a leg, refunded only up to a
fifth of the transaction). The adapter holds no cash between calls, so a standing allowance
reaches nothing that an exact one would not."""

MAX = 2**256 - 1


def _approvals(tx, usdt, adapter):
    return [
        log
        for log in tx.decode_logs(usdt.Approval)
        if log.contract_address == usdt.address and log.owner == adapter.address
    ]


def test_erc4626_adapter__second_deposit__no_new_allowance_and_no_cash_left_behind(
    fund, controller, vault, usdt, fund_usdt, alice, keeper, adapters, unit
):
    adapter = adapters["erc4626"]
    mmf = fund.assets["mmfA"]
    vault.deposit(1_000_000 * unit, alice, sender=alice)

    first = controller.purchaseAsset(mmf, 10_000 * unit, 0, sender=keeper)
    assert usdt.allowance(adapter, mmf) >= MAX - 10_000 * unit  # standing, not spent down to 0
    assert [log.value for log in _approvals(first, usdt, adapter)] == [MAX]

    held, expected = mmf.balanceOf(controller), mmf.previewDeposit(20_000 * unit)
    second = controller.purchaseAsset(mmf, 20_000 * unit, 0, sender=keeper)
    assert _approvals(second, usdt, adapter) == []  # the standing allowance covers it
    assert mmf.balanceOf(controller) - held == expected
    # everything the vault sent went into the fund: nothing waits at the adapter for a later
    # caller's fund to pull with its own standing allowance
    assert usdt.balanceOf(adapter) == 0
    assert mmf.balanceOf(adapter) == 0


def test_erc4626_adapter__a_deposit_that_fails_otherwise__reverts_with_the_funds_error_and_no_approval(
    project, deployer, usdt, attacker, adapters, unit
):
    """The deposit is tried before any allowance is read; only a failing one approves and tries
    again. An outsider calling invest with no cash at the adapter (a failure the allowance does
    not cure) gets the token's own error, and the approval the retry made goes with it."""
    import ape

    adapter = adapters["erc4626"]
    venue = deployer.deploy(project.TestMoneyMarketFund, usdt, "fresh", "FRESH")
    assert usdt.allowance(adapter, venue) == 0
    with ape.reverts(usdt.ERC20InsufficientBalance):
        adapter.invest(venue, 1_000 * unit, sender=attacker)
    assert usdt.allowance(adapter, venue) == 0
