import ape
import pytest

ZERO = "0x" + "00" * 20
TIERS = [(1000, 500, 2000), (3000, 2000, 4000), (6000, 5000, 7000)]


def test_constructor__targets_not_10000__reverts(project, deployer, vault):
    bad = [(1000, 500, 2000), (3000, 2000, 4000), (5000, 5000, 7000)]
    module = deployer.deploy(project.AssetControllerAdmin, vault)
    with ape.reverts(project.AssetController.TierTargetsSum):
        deployer.deploy(
            project.AssetController, vault, deployer, module, bad, (500, 300, 6000, 3600, 0)
        )


@pytest.mark.parametrize(
    "tiers",
    [
        [(1000, 2500, 2000), (3000, 2000, 4000), (6000, 5000, 7000)],  # min > max
        [(1000, 500, 2000), (3000, 3500, 4000), (6000, 5000, 7000)],  # min > target
        [(1000, 500, 2000), (3000, 2000, 4000), (6000, 5000, 10001)],  # max > 100%
    ],
)
def test_set_tiers__bad_band__reverts_naming_tier(controller, deployer, tiers):
    with ape.reverts(controller.InvalidTierBand):
        controller.setTiers(tiers, sender=deployer)


def test_set_tiers__not_timelock__reverts(controller, gov):
    with ape.reverts(controller.AccessControlUnauthorizedAccount):
        controller.setTiers(TIERS, sender=gov)


CONTROLLER_ARGS = [
    "address",
    "address",
    "address",
    "(uint16,uint16,uint16)[3]",
    "(uint16,uint16,uint16,uint32,uint128)",
]


def test_constructor__module_zero_or_another_vaults_or_not_a_module__refused(
    project, deployer, vault, usdt
):
    """The configuration module is named to the constructor (EIP-3860's initcode limit): a module
    made for another vault (its immutables are the vault, cash and decimals its code runs
    with), an account that is no module, or none, is refused with the error naming it."""
    from eth_abi import decode
    from eth_utils import keccak

    tiers = [list(t) for t in TIERS]
    risk = (500, 300, 6000, 3600, 0)
    mismatch = "0x" + keccak(text="AdminModuleMismatch(address)")[:4].hex()
    zero = "0x" + keccak(text="ZeroAddress(string)")[:4].hex()
    other_vault = deployer.deploy(project.TieredVault, usdt, "y", "y", deployer)
    others = deployer.deploy(project.AssetControllerAdmin, other_vault)
    for module, want in (
        (others.address, mismatch),
        (deployer.address, mismatch),  # an account with no code
        (vault.address, mismatch),  # a contract that is no module
        (ZERO, zero),
    ):
        got = _constructor_revert_data(
            project.AssetController, CONTROLLER_ARGS,
            [vault.address, deployer.address, module, tiers, risk], deployer,
        )  # fmt: skip
        assert got[:10] == want, (module, got)
        if want == mismatch:
            (named,) = decode(["address"], bytes.fromhex(got[10:]))
            assert named.lower() == module.lower()
    ours = deployer.deploy(project.AssetControllerAdmin, vault)
    assert ours.moduleVault() == vault.address
    c = deployer.deploy(project.AssetController, vault, deployer, ours, TIERS, risk)
    assert c.adminModule() == ours.address


def _constructor_revert_selector(container, types, args, sender):
    return _constructor_revert_data(container, types, args, sender)[:10]


def _constructor_revert_data(container, types, args, sender):
    """Revert data of a deployment, by eth_call (ape's decoding of constructor reverts can pick
    the wrong error ABI when several contracts declare the same error)."""
    from ape import chain
    from eth_abi import encode
    from web3.exceptions import ContractCustomError, ContractLogicError

    code = container.contract_type.deployment_bytecode.bytecode
    data = code + encode(types, args).hex()
    try:
        chain.provider.web3.eth.call({"from": sender.address, "data": data})
    except (ContractCustomError, ContractLogicError) as e:
        return str(e.data if isinstance(e.data, str) else e.args[-1])
    raise AssertionError("deployment did not revert")


def test_constructor__zero_addresses__revert(project, deployer, usdt):
    from eth_utils import keccak

    want = "0x" + keccak(text="ZeroAddress(string)")[:4].hex()
    tiers = [list(t) for t in TIERS]
    got = _constructor_revert_selector(
        project.AssetController,
        CONTROLLER_ARGS,
        [ZERO, deployer.address, ZERO, tiers, (500, 300, 6000, 3600, 0)],
        deployer,
    )
    assert got == want
    got = _constructor_revert_selector(
        project.TieredVault,
        ["address", "string", "string", "address"],
        [usdt.address, "x", "x", ZERO],
        deployer,
    )
    assert got == want


def test_add_asset__bad_inputs__revert(project, controller, fund, deployer, adapters, create_feed):
    feed = create_feed()
    token = deployer.deploy(project.TestStablecoin, "New", "NEW", 18)
    base = [
        token.address,
        1,
        adapters["erc4626"].address,
        feed.address,
        3600,
        1,
        10**30,
        10**30,
        2500,
    ]
    cases = [
        ({0: ZERO}, controller.ZeroAddress),
        ({2: ZERO}, controller.ZeroAddress),
        ({3: ZERO}, controller.ZeroAddress),
        ({1: 0}, controller.InvalidTier),
        ({1: 3}, controller.InvalidTier),
        ({0: fund.assets["mmfA"].address}, controller.AssetAlreadyRegistered),
        ({8: 10_001}, controller.InvalidParameter),
    ]
    for change, err in cases:
        p = list(base)
        for i, v in change.items():
            p[i] = v
        with ape.reverts(err):
            controller.addAsset(p, sender=deployer)


def test_limits__guardian_lowers_at_once_but_cannot_raise(
    controller, fund, guardian, deployer, attacker
):
    token = fund.assets["mmfA"]
    controller.setAssetLimits(token, 10**20, 2000, sender=guardian)
    assert controller.assetParams(token).maxConcentrationBps == 2000
    with ape.reverts(controller.RiskIncreaseRequiresTimelock):
        controller.setAssetLimits(token, 10**20, 2500, sender=guardian)
    with ape.reverts(controller.AccessControlUnauthorizedAccount):
        controller.setAssetLimits(token, 10**19, 1000, sender=attacker)
    controller.setAssetLimits(token, 10**21, 2500, sender=deployer)  # the timelock role raises


def test_risk_params__raise_needs_timelock_lower_is_immediate(controller, gov, guardian, deployer):
    controller.setRiskParams((400, 300, 6000, 3600, 0), sender=guardian)
    with ape.reverts(controller.RiskIncreaseRequiresTimelock):
        controller.setRiskParams((600, 300, 6000, 3600, 0), sender=gov)
    with ape.reverts(controller.InvalidParameter):
        controller.setRiskParams((400, 300, 6000, 10 * 86_400, 0), sender=deployer)


def test_remove_asset__not_empty__reverts_then_empty_ok(
    controller, fund, keeper, gov, deposited, unit
):
    token = fund.assets["mmfB"]
    controller.allocateToLayer(1, 100_000 * unit, sender=keeper)
    with ape.reverts(controller.AssetNotEmpty):
        controller.removeAsset(token, sender=gov)
    controller.redeemAsset(token, token.balanceOf(controller), 0, sender=keeper)
    controller.removeAsset(token, sender=gov)
    with ape.reverts(controller.UnknownAsset):
        controller.assetParams(token)


def test_set_default_asset__wrong_tier__reverts(controller, fund, gov):
    with ape.reverts(controller.AssetNotInTier):
        controller.setDefaultAsset(1, fund.assets["crA"], sender=gov)


@pytest.mark.parametrize(
    "fn,args,role",
    [
        ("allocateToLayer", (1, 1), "keeper"),
        ("purchaseAsset", ("mmfA", 1, 0), "keeper"),
        ("redeemAsset", ("mmfA", 1, 0), "keeper"),
        ("rebalanceBuffer", (), "keeper"),
        ("executeWaterfallLiquidation", (1, 2), "keeper"),
        ("setTiers", (TIERS,), "timelock"),
        ("setFeed", ("mmfA", "feed", 60, 1, 10**20), "timelock"),
        ("removeAsset", ("mmfA",), "admin"),
        ("setDefaultAsset", (1, "mmfA"), "admin"),
        ("pause", (), "guardian"),
        ("unpause", (), "admin"),
    ],
)
def test_access__stranger_denied(controller, fund, attacker, fn, args, role):
    resolved = []
    for a in args:
        if isinstance(a, str) and a in fund.assets:
            resolved.append(fund.assets[a].address)
        elif isinstance(a, str) and a == "feed":
            resolved.append(fund.feeds["mmfA"].address)
        else:
            resolved.append(a)
    with ape.reverts(controller.AccessControlUnauthorizedAccount):
        getattr(controller, fn)(*resolved, sender=attacker)


def test_timelock__hand_over__risk_increase_waits_for_delay(project, fund, deployer, gov, chain):
    from ballast_dev.deployment.fund import hand_over

    timelock = hand_over(project, fund, deployer, gov, delay=3600)
    c = fund.controller
    with ape.reverts(c.AccessControlUnauthorizedAccount):
        c.setTiers(TIERS, sender=deployer)
    data = c.setTiers.encode_input(TIERS)
    salt = b"\x00" * 32
    pred = b"\x00" * 32
    timelock.schedule(c.address, 0, data, pred, salt, 3600, sender=gov)
    with ape.reverts():
        timelock.execute(c.address, 0, data, pred, salt, sender=gov)
    chain.pending_timestamp += 3601
    timelock.execute(c.address, 0, data, pred, salt, sender=gov)
    # risk-reducing change by the admin stays immediate
    c.setRiskParams((400, 300, 6000, 3600, 0), sender=gov)


def test_feed_lower_bound_wider_than_96_bits__refused_naming_it__by_every_feed_setter(
    project, controller, fund, usdt, deployer, guardian, adapters, create_feed
):
    """An asset's minAnswer is stored in 96 bits (beside its feed, issue 45's gas): addAsset,
    setFeed and setFallbackFeed refuse a wider one with the field and the value, never
    truncating a sanity bound; 2**96 - 1 is taken, and useFallbackFeed installs it whole."""
    too_wide, widest = 2**96, 2**96 - 1
    feed = create_feed()
    token = deployer.deploy(project.TestMoneyMarketFund, usdt.address, "w", "W")
    p = [token.address, 1, adapters["erc4626"].address, feed.address, 3600, too_wide, 10**30]
    with ape.reverts(controller.InvalidParameter, name="minAnswer", value=too_wide):
        controller.addAsset(p + [10**30, 2500], sender=deployer)
    held = fund.assets["mmfA"]
    with ape.reverts(controller.InvalidParameter, name="minAnswer", value=too_wide):
        controller.setFeed(held, feed, 3600, too_wide, 10**30, sender=deployer)
    with ape.reverts(controller.InvalidParameter, name="minAnswer", value=too_wide):
        controller.setFallbackFeed(held, feed, 3600, too_wide, 10**30, sender=deployer)
    controller.setFallbackFeed(held, feed, 3600, widest, 10**30, sender=deployer)
    controller.useFallbackFeed(held, sender=guardian)
    a = controller.assetParams(held)
    assert (a.feed, a.minAnswer, a.maxAnswer) == (feed.address, widest, 10**30)


def _listed_token(project, controller, fund, usdt, deployer, symbol):
    token = deployer.deploy(project.TestMoneyMarketFund, usdt.address, symbol, symbol)
    feed = fund.feeds["mmfB"]
    p = (token, 1, fund.adapters["erc4626"], feed, 86_400, 1, 10**30, 2**128 - 1, 2500)
    return token, lambda: controller.addAsset(p, sender=deployer)


def test_remove_asset__the_units_counted_move_with_the_asset_that_takes_its_index(
    project, controller, fund, usdt, keeper, gov, deployer, alice, deposited, unit
):
    """What the mark counted is kept per list index: removing an asset moves the last one into
    its index, and its counted units with it (else users' live pass would cap the moved asset
    at the removed one's units, here none); an asset listed later at the freed index starts
    from none counted (else tokens sent to the controller before its listing would count up
    to the units the removed index held)."""
    last, add_last = _listed_token(project, controller, fund, usdt, deployer, "last")
    add_last()
    controller.rebalance(True, sender=keeper)  # every instant asset held, the mark stored
    assert last.balanceOf(controller) > 0
    first = fund.assets["mmfA"]
    assert controller.assetList()[0] == first.address
    controller.redeemAsset(first, first.balanceOf(controller), 0, sender=keeper)
    before = controller.livePricingValues()
    controller.removeAsset(first, sender=gov)
    assert controller.assetList()[0] == last.address  # the last asset took index 0
    assert controller.livePricingValues() == before
    assert controller.pricingValues() == before
    new, add_new = _listed_token(project, controller, fund, usdt, deployer, "new")
    usdt.approve(new.address, 10 * unit, sender=alice)
    new.deposit(10 * unit, controller.address, sender=alice)  # sent to it, not bought
    add_new()  # listed at the index `last` left
    assert controller.livePricingValues() == before
