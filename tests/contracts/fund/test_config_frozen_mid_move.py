"""Issue 68: no configuration change while a controller move is under way.

The moves read parts of the configuration once per call and keep the value (the internal
bound and the leg floor per deploy, the asset list and registrations the snapshot was taken
over): equal to reading them again only if nothing writes them in between. A listed venue or
token with a transfer hook (an ERC-777-style or upgradeable token; listing one is the
timelock's call) reaches code of its owner's choosing in the middle of a move; if that code
holds a configuration role (a compromised or careless admin's contract), it could change
the risk parameters, tiers, limits or roles under the move. The admin module refuses every
configuration writer while the controller's reentrancy guard is entered
(`AssetControllerStorage._notDuringMove`): here the hook's holder has the timelock's own
role (DEFAULT_ADMIN_ROLE, which skips every other check), and each writer it calls mid-move
is refused with ReentrancyGuardReentrantCall, while the same call after the move goes through.
"""

import pytest
from eth_utils import keccak

REENTRANT = keccak(text="ReentrancyGuardReentrantCall()")[:4]
TIERS = [(1000, 500, 2000), (3000, 2000, 4000), (6000, 5000, 7000)]


@pytest.fixture
def admin_caller(project, controller, deployer):
    """The hook's holder: a contract with the timelock's role on the controller."""
    caller = deployer.deploy(project.TestMidMoveCaller)
    controller.grantRole(controller.DEFAULT_ADMIN_ROLE(), caller, sender=deployer)
    return caller


def _writes(controller, fund, hooked, attacker):
    mmf = fund.assets["mmfA"]
    return {
        "setRiskParams": controller.setRiskParams.encode_input((400, 300, 6000, 3600, 0)),
        "setTiers": controller.setTiers.encode_input(TIERS),
        "setAssetLimits": controller.setAssetLimits.encode_input(mmf, 10**30, 2400),
        "setDustValue": controller.setDustValue.encode_input(7),
        "pause": controller.pause.encode_input(),
        "grantRole": controller.grantRole.encode_input(controller.KEEPER_ROLE(), attacker.address),
        "removeAsset": controller.removeAsset.encode_input(hooked.address),
    }


@pytest.mark.parametrize(
    "writer",
    [
        "setRiskParams",
        "setTiers",
        "setAssetLimits",
        "setDustValue",
        "pause",
        "grantRole",
        "removeAsset",
    ],
)
def test_config_writer_from_a_venue_hook_mid_move__refused_after_it_allowed(
    controller, fund, hooked, admin_caller, keeper, attacker, unit, writer
):
    data = _writes(controller, fund, hooked, attacker)[writer]
    snapshot = (
        controller.riskParams(),
        controller.tier(1),
        controller.dustValue(),
        controller.paused(),
    )
    hooked.arm(admin_caller, admin_caller.exec.encode_input(controller, data), sender=attacker)
    controller.purchaseAsset(hooked, 1_000 * unit, 0, sender=keeper)
    assert hooked.hookOk() is False, f"{writer} went through in the middle of a move"
    assert bytes(hooked.hookReturn())[:4] == REENTRANT
    assert (
        controller.riskParams(),
        controller.tier(1),
        controller.dustValue(),
        controller.paused(),
    ) == snapshot
    assert not controller.hasRole(controller.KEEPER_ROLE(), attacker)
    if writer == "removeAsset":
        return  # after the move the hooked asset holds a position: refused for that instead
    # the same call after the move: the role holder's call goes through (not refused for itself)
    admin_caller.exec(controller, data, sender=attacker)


def test_timelock_only_writers_mid_move__refused(
    controller, fund, hooked, admin_caller, keeper, attacker, unit, deployer, guardian
):
    """acceptPrice and unpause skip `_authorize` and `_checkRole` for the timelock's role:
    refused mid-move all the same."""
    for data in (
        controller.unpause.encode_input(),
        controller.acceptPrice.encode_input(hooked.address),
        controller.setFeed.encode_input(hooked.address, hooked.address, 3600, 1, 10**20),
    ):
        hooked.arm(admin_caller, admin_caller.exec.encode_input(controller, data), sender=attacker)
        controller.purchaseAsset(hooked, 1_000 * unit, 0, sender=keeper)
        assert hooked.hookOk() is False
        assert bytes(hooked.hookReturn())[:4] == REENTRANT
