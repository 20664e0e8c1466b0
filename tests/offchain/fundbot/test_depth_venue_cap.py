"""The fund keeper reads a venue's own deposit limit, as the controller cuts a leg at it
(fourth review): an ERC-4626 venue's ``maxDeposit(controller)`` is the most a purchase there
can take (``DepthReader.read``'s ``max_buy`` for it); a venue without a limit has no entry."""

from __future__ import annotations

from types import SimpleNamespace

from keepers.fund.depth_reader import DepthReader

UNIT = 10**6
CONTROLLER = "0x000000000000000000000000000000000000C0DE"


def test_depth_reader__capped_erc4626_venue__deposit_room_is_its_max_deposit(
    project, deployer, attacker, chain
):
    usdt = deployer.deploy(project.TestStablecoin, "Tether USD (test)", "USDT", 6)
    capped = deployer.deploy(project.TestCappedFund, usdt, 1_000_000 * UNIT)
    plain = deployer.deploy(project.TestMoneyMarketFund, usdt, "m", "m")
    w3 = chain.provider.web3
    contracts = SimpleNamespace(
        w3=w3, addresses=SimpleNamespace(controller=CONTROLLER), quoter=None
    )
    reader = DepthReader(contracts, SimpleNamespace(pool_fee=lambda token: None))  # type: ignore[arg-type]
    head = chain.blocks.head.number
    assert reader.deposit_room(capped.address, head) == 1_000_000 * UNIT
    # eve fills most of the headroom: the keeper sees what is left
    usdt.mint(attacker, 850_000 * UNIT, sender=deployer)
    usdt.approve(capped, 2**256 - 1, sender=attacker)
    capped.deposit(850_000 * UNIT, attacker, sender=attacker)
    assert reader.deposit_room(capped.address, chain.blocks.head.number) == 150_000 * UNIT
    assert reader.deposit_room(plain.address, chain.blocks.head.number) is None  # no limit
    assert reader.deposit_room(usdt.address, chain.blocks.head.number) is None  # not a venue
