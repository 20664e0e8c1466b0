"""The DEX adapter against real Uniswap V3 bytecode (npm artifacts): purchases and redemptions
through the SwapRouter, and a sandwich around purchaseAsset refused by the oracle minimum out."""

import ape
import pytest

from ballast_dev.deployment.fund import RiskSpec, add_asset, deploy_core, grant_roles
from ballast_dev.deployment.uniswap import create_pool, deploy_uniswap, swap_exact_input

PRICE = 100  # one RWA token = 100 USDT


@pytest.fixture(scope="module")
def dex(project, deployer, gov, keeper, guardian, base_decimals, attacker):
    unit = 10**base_decimals
    usdt = deployer.deploy(project.TestStablecoin, "Tether USD (test)", "USDT", base_decimals)
    uni = deploy_uniswap(deployer, with_quoter=False)
    f = deploy_core(project, deployer, usdt, risk=RiskSpec(max_top3_bps=10_000))
    grant_roles(f, gov, keepers=[keeper], guardians=[guardian], sender=deployer)
    adapter = deployer.deploy(project.UniswapV3Adapter, uni.router, usdt, deployer)
    rwa = deployer.deploy(project.TestStablecoin, "Tokenized T-Bill (test)", "TBILL", 18)
    usdt.mint(deployer, 10**9 * unit, sender=deployer)
    rwa.mint(deployer, 10**9 * 10**18, sender=deployer)
    # 2M USDT / 20k TBILL full range at 100 USDT per TBILL
    create_pool(
        uni, rwa, usdt, 3000, (PRICE * unit, 10**18), (20_000 * 10**18, 2_000_000 * unit), deployer
    )
    adapter.setPoolFee(rwa, 3000, sender=deployer)
    feed = deployer.deploy(project.TestPriceFeed, 8, PRICE * 10**8)
    add_asset(
        f,
        deployer,
        symbol="TBILL",
        token=rwa,
        tier=2,
        adapter=adapter,
        feed=feed,
        max_concentration_bps=10_000,
    )
    usdt.mint(attacker, 10**8 * unit, sender=deployer)
    usdt.approve(f.vault, 2**256 - 1, sender=deployer)
    f.vault.deposit(1_000_000 * unit, deployer, sender=deployer)
    return dict(fund=f, usdt=usdt, rwa=rwa, uni=uni, adapter=adapter, unit=unit, feed=feed)


def test_purchase__through_real_pool__within_oracle_bounds(dex, keeper):
    f, rwa, unit = dex["fund"], dex["rwa"], dex["unit"]
    out = f.controller.purchaseAsset(rwa, 10_000 * unit, 0, sender=keeper).return_value
    oracle_out = 10_000 * 10**18 // PRICE
    assert oracle_out * 95 // 100 <= out < oracle_out  # fee + impact, inside 5%
    assert rwa.balanceOf(f.controller) == out


def test_redeem__through_real_pool__cash_to_vault(dex, keeper):
    f, rwa, unit = dex["fund"], dex["rwa"], dex["unit"]
    f.controller.purchaseAsset(rwa, 10_000 * unit, 0, sender=keeper)
    cash_before = f.vault.freeCash()
    got = f.controller.redeemAsset(rwa, rwa.balanceOf(f.controller), 0, sender=keeper).return_value
    assert f.vault.freeCash() - cash_before == got
    assert 9_800 * unit < got < 10_000 * unit  # two 0.3% fees plus impact


def test_sandwich__front_run_purchase__refused_by_oracle_min_out(dex, keeper, attacker):
    f, rwa, usdt, uni, unit = dex["fund"], dex["rwa"], dex["usdt"], dex["uni"], dex["unit"]
    # front-run: the attacker buys 400k of TBILL, lifting the pool price ~45% over the oracle
    bought = swap_exact_input(uni, usdt, rwa, 3000, 400_000 * unit, attacker)
    assert bought > 0
    with ape.reverts(f.controller.SlippageExceeded):
        f.controller.purchaseAsset(rwa, 50_000 * unit, 0, sender=keeper)
    # the fund's cash never left: the attacker has nothing to back-run against
    assert f.vault.freeCash() == 1_000_000 * unit
    assert rwa.balanceOf(f.controller) == 0


def test_small_price_move__inside_slippage_but_over_value_loss__reverts(
    dex, keeper, attacker, deployer
):
    f, rwa, usdt, uni, unit = dex["fund"], dex["rwa"], dex["usdt"], dex["uni"], dex["unit"]
    # a 4% move: inside the 5% max slippage, above the 3% max value loss per operation
    swap_exact_input(uni, usdt, rwa, 3000, 20_000 * unit, attacker)
    with ape.reverts(f.controller.ValueLossExceeded):
        f.controller.purchaseAsset(rwa, 20_000 * unit, 0, sender=keeper)


def test_adapter__pool_not_configured_or_bad_fee__reverts(dex, deployer, project):
    adapter = dex["adapter"]
    with ape.reverts(adapter.InvalidPoolFee):
        adapter.setPoolFee(dex["rwa"], 2500, sender=deployer)
    other = deployer.deploy(project.TestStablecoin, "X", "X", 18)
    with ape.reverts(adapter.PoolNotConfigured):
        adapter.invest(other, 0, sender=deployer)


def test_arbitrage_to_price__moved_pool__back_at_oracle_then_purchase_passes(
    dex, keeper, attacker, deployer
):
    """The demo's market: after a front-run moves the pool, one price-limited swap brings it
    back to the oracle price and the fund's guarded purchase goes through again."""
    from ballast_dev.deployment.uniswap import arbitrage_to_price, sqrt_price_for

    f, rwa, usdt, uni, unit = dex["fund"], dex["rwa"], dex["usdt"], dex["uni"], dex["unit"]
    swap_exact_input(uni, usdt, rwa, 3000, 400_000 * unit, attacker)
    rwa.mint(deployer, 10**6 * 10**18, sender=deployer)
    usdt.mint(deployer, 10**9 * unit, sender=deployer)
    price = (PRICE * unit, 10**18)
    paid = arbitrage_to_price(uni, rwa, usdt, 3000, price, deployer)
    assert paid > 0
    pool = uni.pool_at(uni.factory.getPool(rwa, usdt, 3000))
    target, _ = sqrt_price_for(rwa, usdt, price)
    assert int(pool.slot0()[0]) == target
    assert arbitrage_to_price(uni, rwa, usdt, 3000, price, deployer) == 0  # already there
    f.controller.purchaseAsset(rwa, 10_000 * unit, 0, sender=keeper)
