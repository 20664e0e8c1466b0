"""Deploys and wires the tiered fund: vault, AssetController, adapters, assets and feeds.

Used by scripts/deploy.py (from a profile file), by the demo and by the tests. Everything here
talks to the chain through ape; amounts are integers in base units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ballast_dev.deployment.record import DirectSteps
from ballast_dev.deployment.structs import ContractStruct

DEFAULT_TIERS = [(1000, 500, 2000), (3000, 2000, 4000), (6000, 5000, 7000)]  # (target, min, max)
FEED_DECIMALS = 8  # every TestPriceFeed's (the fund's, the portfolio's and the benchmarks')


@dataclass(frozen=True)
class RiskSpec(ContractStruct):
    max_slippage_bps: int = 500
    max_value_loss_bps: int = 300
    max_top3_bps: int = 6000
    nav_max_age: int = 3600
    min_move_value: int = 0


UINT96_MAX = 2**96 - 1


@dataclass(frozen=True)
class MoveLimitsSpec(ContractStruct):
    """Per-window budgets of keeper/rebalancer moves (base units) and the bound of the
    controller's own swaps. The default (no budget, internal bound = max slippage) is for tests
    that exercise other guards; every profile sets its own."""

    loss_budget: int = UINT96_MAX
    notional_budget: int = UINT96_MAX
    window: int = 86_400
    internal_slippage_bps: int = 500


@dataclass
class FundDeployment:
    cash: Any
    vault: Any
    controller: Any
    lens: Any = None
    timelock: Any | None = None
    safe: Any | None = None  # the admin Safe (ADMIN_ROLE, the timelock's proposer/executor)
    # MultiSendCallOnly 1.4.1 the admin Safe batches its calls through (Transaction Builder)
    safe_multisend: str | None = None
    adapters: dict[str, Any] = field(default_factory=dict)
    assets: dict[str, Any] = field(default_factory=dict)  # symbol -> token contract
    feeds: dict[str, Any] = field(default_factory=dict)  # symbol -> feed contract
    automation: dict[str, Any] = field(default_factory=dict)  # name -> contract (and the paid id)

    def release(self) -> str:
        """The contract release the deployed controller answers."""
        from keepers.tx.release import LEGACY_RELEASE, decode_release

        return decode_release(bytes(self.controller.RELEASE())) or LEGACY_RELEASE

    def addresses(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "cash": self.cash.address,
            "vault": self.vault.address,
            "controller": self.controller.address,
            "lens": self.lens.address if self.lens is not None else None,
            "adapters": {k: v.address for k, v in self.adapters.items()},
            "assets": {k: v.address for k, v in self.assets.items()},
            "feeds": {k: v.address for k, v in self.feeds.items()},
            # the contract release the controller answers (RELEASE()): the keepers check the
            # contracts against it and record plans for it (keepers.tx.release)
            "release": self.release(),
        }
        if self.timelock is not None:
            out["timelock"] = self.timelock.address
        if self.safe is not None:
            out["safe"] = self.safe.address
        if self.safe_multisend is not None:
            out["safe_multisend"] = self.safe_multisend
        if self.automation:
            out["automation"] = {k: getattr(v, "address", v) for k, v in self.automation.items()}
        return out


def fund_state(fund: FundDeployment) -> Any:
    """The whole fund's state in one eth_call (IAssetController.FundState)."""
    return fund.lens.fundState(fund.controller.address)


def role(contract: Any, name: str) -> bytes:
    return getattr(contract, name)()


def deploy_core(
    project: Any,
    deployer: Any,
    cash: Any,
    *,
    tiers: list[tuple[int, int, int]] = DEFAULT_TIERS,
    risk: RiskSpec = RiskSpec(),
    limits: MoveLimitsSpec = MoveLimitsSpec(),
    sequencer_feed: str | None = None,
    sequencer_grace: int = 3_600,
    name: str = "Ballast Fund Share",
    symbol: str = "bFUND",
    steps: Any = None,
) -> FundDeployment:
    """Vault + controller with the deployer as admin (hand over with `hand_over`). ``steps``
    (ballast_dev.deployment.record) records each transaction; None sends them unrecorded."""
    steps = steps or DirectSteps()
    vault = steps.deploy(
        "deploy:vault",
        project.TieredVault,
        cash.address,
        name,
        symbol,
        deployer.address,
        sender=deployer,
    )
    # the controller's configuration module first: the controller is given it (its creation code
    # inside the controller's would leave no room under EIP-3860's initcode limit)
    module = steps.deploy(
        "deploy:controller_admin", project.AssetControllerAdmin, vault.address, sender=deployer
    )
    controller = steps.deploy(
        "deploy:controller",
        project.AssetController,
        vault.address,
        deployer.address,
        module.address,
        [list(t) for t in tiers],
        risk.as_tuple(),
        sender=deployer,
    )
    steps.send("vault.setController", vault.setController, controller.address, sender=deployer)
    steps.send(
        "controller.setMoveLimits", controller.setMoveLimits, limits.as_tuple(), sender=deployer
    )
    if sequencer_feed:
        steps.send(
            "controller.setSequencerFeed",
            controller.setSequencerFeed,
            sequencer_feed,
            sequencer_grace,
            sender=deployer,
        )
    # users price at the worse of this mark and live
    steps.send("controller.mark", controller.mark, sender=deployer)
    lens = steps.deploy("deploy:lens", project.FundLens, sender=deployer)
    return FundDeployment(cash=cash, vault=vault, controller=controller, lens=lens)


def _label(c: Any, fund: FundDeployment) -> str:
    return "vault" if c is fund.vault else "controller"


def grant_roles(
    fund: FundDeployment,
    admin: Any,
    *,
    keepers: list[Any],
    guardians: list[Any],
    sender: Any,
    steps: Any = None,
) -> None:
    steps = steps or DirectSteps()
    for c in (fund.vault, fund.controller):
        n = _label(c, fund)
        steps.send(
            f"{n}.grant:ADMIN_ROLE", c.grantRole, role(c, "ADMIN_ROLE"), admin, sender=sender
        )
        for i, k in enumerate(keepers):
            steps.send(
                f"{n}.grant:KEEPER_ROLE:{i}", c.grantRole, role(c, "KEEPER_ROLE"), k, sender=sender
            )
        for i, g in enumerate(guardians):
            steps.send(
                f"{n}.grant:GUARDIAN_ROLE:{i}",
                c.grantRole,
                role(c, "GUARDIAN_ROLE"),
                g,
                sender=sender,
            )


def add_asset(
    fund: FundDeployment,
    sender: Any,
    *,
    symbol: str,
    token: Any,
    tier: int,
    adapter: Any,
    feed: Any,
    heartbeat: int = 86_400,
    min_answer: int = 1,
    max_answer: int = 10**30,
    cap: int = 2**128 - 1,
    max_concentration_bps: int = 2500,
    steps: Any = None,
) -> None:
    steps = steps or DirectSteps()
    steps.send(
        f"controller.addAsset:{symbol}",
        fund.controller.addAsset,
        (
            token.address,
            tier,
            adapter.address,
            feed.address,
            heartbeat,
            min_answer,
            max_answer,
            cap,
            max_concentration_bps,
        ),
        sender=sender,
    )
    fund.assets[symbol] = token
    fund.feeds[symbol] = feed


def deploy_timelock(
    project: Any,
    deployer: Any,
    admin: Any,
    delay: int,
    steps: Any = None,
    cancellers: Sequence[Any] = (),
) -> Any:
    """The FundTimelock, proposed and executed by `admin` (an account or the admin Safe);
    `cancellers` (the guardian) may cancel a queued operation at once (CANCELLER_ROLE, granted
    in the constructor: the timelock has no admin to grant it later but itself)."""
    steps = steps or DirectSteps()
    admin_address = str(getattr(admin, "address", admin))
    return steps.deploy(
        "deploy:timelock",
        project.FundTimelock,
        delay,
        [admin_address],
        [admin_address],
        "0x" + "00" * 20,
        [str(getattr(c, "address", c)) for c in cancellers],
        sender=deployer,
    )


def hand_over(
    project: Any,
    fund: FundDeployment,
    deployer: Any,
    admin: Any,
    delay: int,
    steps: Any = None,
    timelock: Any = None,
    cancellers: Sequence[Any] = (),
) -> Any:
    """Moves DEFAULT_ADMIN_ROLE (risk-increasing changes) to a TimelockController proposed and
    executed by `admin` (deployed here unless `timelock` is given, with `cancellers` allowed
    to cancel), and renounces the deployer's roles."""
    steps = steps or DirectSteps()
    admin_address = str(getattr(admin, "address", admin))
    if timelock is None:
        timelock = deploy_timelock(project, deployer, admin_address, delay, steps, cancellers)
    for c in (fund.vault, fund.controller):
        n = _label(c, fund)
        steps.send(
            f"{n}.grant:DEFAULT_ADMIN_ROLE:timelock",
            c.grantRole,
            role(c, "DEFAULT_ADMIN_ROLE"),
            timelock.address,
            sender=deployer,
        )
        if deployer.address != admin_address:
            for r in ("ADMIN_ROLE", "DEFAULT_ADMIN_ROLE"):
                steps.send(
                    f"{n}.renounce:{r}",
                    c.renounceRole,
                    role(c, r),
                    deployer.address,
                    sender=deployer,
                )
    fund.timelock = timelock
    return timelock
