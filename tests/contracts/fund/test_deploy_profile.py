"""scripts/deploy.py's profile: the local profile deploys a working fund; bad files are refused
with the field and value named."""

from pathlib import Path

import pytest

from ballast_dev.deployment.fund import fund_state
from ballast_dev.deployment.profile import ProfileError, deploy_profile, load_profile

LOCAL = "scripts/profiles/local.yaml"


def test_local_profile__deploys_and_rebalances(accounts, project):
    import ape

    profile = load_profile(LOCAL)
    # one feed vouched for as bumping its round on every answer (`rounds_bumped`)
    first = profile.assets[0].model_copy(update={"rounds_bumped": True})
    profile = profile.model_copy(update={"assets": [first, *profile.assets[1:]]})
    deployer = accounts[0]
    lines: list[str] = []
    fund = deploy_profile(profile, deployer, accounts, log=lines.append)
    assert len(fund.assets) == 6
    admin, keeper = accounts[1], accounts[2]
    c, v = fund.controller, fund.vault
    assert c.hasRole(c.DEFAULT_ADMIN_ROLE(), fund.timelock)
    assert not c.hasRole(c.DEFAULT_ADMIN_ROLE(), deployer)
    vouched = {sym for sym, token in fund.assets.items() if c.roundsBumped(token)}
    assert vouched == {first.symbol}  # the others read live: no round id trusted by default
    assert any(first.symbol in ln and "rounds bumped" in ln for ln in lines)
    for who in (deployer, admin, keeper):  # after the hand-over only the timelock vouches
        with ape.reverts():
            c.setRoundsBumped(fund.assets[profile.assets[1].symbol], True, sender=who)
    assert c.hasRole(c.ADMIN_ROLE(), admin) and c.hasRole(c.KEEPER_ROLE(), keeper)
    # the guardian may veto a queued change at once; the keeper may not (issue 67)
    t = fund.timelock
    guardian = accounts[int(profile.roles["guardian"])]
    assert t.hasRole(t.CANCELLER_ROLE(), guardian) and not t.hasRole(t.CANCELLER_ROLE(), keeper)
    # the pool fee tier decides where the fund trades: only the timelock may switch it
    assert fund.adapters["uniswap"].owner() == fund.timelock.address
    limits = c.moveLimits()
    assert (limits.lossBudget, limits.notionalBudget) == (100_000 * 10**6, 20_000_000 * 10**6)
    assert (limits.window, limits.internalSlippageBps) == (86_400, 100)
    unit = 10**6
    fund.cash.mint(admin, 2_000_000 * unit, sender=deployer)
    fund.cash.approve(v, 2**256 - 1, sender=admin)
    v.deposit(2_000_000 * unit, admin, sender=admin)
    c.rebalance(True, sender=keeper)
    st = fund_state(fund)
    assert [
        abs(r - t) <= 100 for r, t in zip(st.tierRatioBps, (1000, 3000, 6000), strict=True)
    ] == [True] * 3
    assert st.top3Bps <= 6000
    assert v.totalAssets() > 2_000_000 * unit * 99 // 100  # swap fees and impact under 1%


@pytest.mark.parametrize(
    "patch,needle",
    [
        (
            "tiers:\n  - [1000, 500, 2000]\n  - [3000, 2000, 4000]\n  - [5000, 5000, 7000]\n",
            "sum to 10000",
        ),
        (
            "tiers:\n  - [1000, 2500, 2000]\n  - [3000, 2000, 4000]\n  - [6000, 5000, 7000]\n",
            "tiers",
        ),
        ("risk:\n  max_slippage_bps: 9000\n", "risk.max_slippage_bps"),
    ],
)
def test_profile__bad_values__refused_naming_field(tmp_path, patch, needle):
    import yaml

    data = yaml.safe_load(Path(LOCAL).read_text())
    data.update(yaml.safe_load(patch))
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(data))
    with pytest.raises(ProfileError, match=needle):
        load_profile(p)


def test_profile__unknown_pool_fee__refused(tmp_path):
    import yaml

    data = yaml.safe_load(Path(LOCAL).read_text())
    data["assets"][2]["pool_fee"] = 2500
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(data))
    with pytest.raises(ProfileError, match=r"assets\.2\.pool_fee.*2500"):
        load_profile(p)
