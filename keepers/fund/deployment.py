"""The deployment the fund keeper drives, and its plans of another one.

A contract release is a new deployment (docs/operator/upgrades.md); a store kept across it
holds the old deployment's plans. `Deployed` reads the fund contracts' release once
(keepers.tx.release: a release this keeper cannot drive is refused, exit 2; the deployment
record's release, when it names one, must be the contracts'), names the deployment plans are
recorded for (``id``: chain, vault, release), and ends an open plan of another deployment as
``aborted`` with that reason before anything simulates or sends it. `Deployed.check` is the
keeper's start-up check of the chain, the contracts, their release and their tier bands.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from web3 import Web3
from web3.exceptions import ContractLogicError

from keepers.core.logging import get_logger
from keepers.core.settings import PolicyConfig
from keepers.fund.outcome import ROLE, CycleOutcome
from keepers.fund.plan_reads import AnyPlanRow
from keepers.fund.planning.config import PlanningConfig
from keepers.fund.records import (
    ABORTED,
    APPROVED,
    PENDING_APPROVAL,
    PROPOSED,
    PlanStore,
)
from keepers.fund.roles import fund_role
from keepers.runtime.alerts import AlertLevel
from keepers.tx.contracts import ChainMismatchError, DeploymentError, FundAddresses, FundContracts
from keepers.tx.release import (
    ReleaseCheck,
    ReleaseMismatchError,
    check_release,
    deployment_id,
    other_deployment,
)

log = get_logger("keepers.fundbot")

OTHER_DEPLOYMENT = "plan_other_deployment"  # the alert code (docs/runbook.md)
OPEN = (PROPOSED, PENDING_APPROVAL, APPROVED)


class Deployed:
    """See the module docstring. ``alert(level, code, message, ref)``: the bot's alerter."""

    def __init__(
        self,
        w3: Web3,
        addresses: FundAddresses,
        plans: PlanStore,
        alert: Callable[..., Any],
    ) -> None:
        self.w3 = w3
        self.addresses = addresses
        self.plans = plans
        self.alert = alert
        self._release: ReleaseCheck | None = None
        self._id: str | None = None

    def check(self, contracts: FundContracts, cfg: PlanningConfig, chain_id: int | None) -> None:
        """Refuse to run against the wrong chain (KEEPER_CHAIN_ID), code that is not the fund's
        contracts, a release this keeper cannot drive (exit 2) or other tier bands."""
        actual = int(self.w3.eth.chain_id)
        if chain_id is not None and actual != chain_id:
            raise ChainMismatchError(f"KEEPER_CHAIN_ID={chain_id} but the node is chain {actual}")
        contracts.verify()
        self.release  # noqa: B018 - the contracts' release against the ABIs'
        check_bands(contracts, cfg)

    def policy(self, configured: PolicyConfig) -> PolicyConfig:
        """The configured policy plus the fund keeper's role: this deployment's controller's
        keeper functions (keepers.fund.roles)."""
        roles = dict(configured.roles)
        roles.setdefault(ROLE, fund_role(self.addresses.controller, self.addresses.plan_executor))
        return PolicyConfig(roles=roles)

    @property
    def release(self) -> ReleaseCheck:
        if self._release is None:
            a = self.addresses
            check = check_release(
                self.w3,
                {
                    "controller": a.controller,
                    "vault": a.vault,
                    "lens": a.lens,
                    "plan_executor": a.plan_executor,
                },
                who="fund",
            )
            if a.release is not None and a.release != check.contracts:
                raise ReleaseMismatchError(
                    f"{a.where} records contract release {a.release}, the contracts answer "
                    f"{check.contracts}: the record belongs to another deployment"
                )
            self._release = check
        return self._release

    @property
    def id(self) -> str:
        if self._id is None:
            chain = self.addresses.chain_id or int(self.w3.eth.chain_id)
            self._id = deployment_id(chain, self.addresses.vault, self.release.contracts)
        return self._id

    def other(self, row: AnyPlanRow) -> str | None:
        return other_deployment(row.deployment, self.id)

    def end_if_other(self, row: AnyPlanRow, now: int | None = None) -> CycleOutcome | None:
        """``row`` ended as aborted when it is open and of another deployment (else None).
        The end is stored in the one shape every end has (keepers.fund.lifecycle.ended_of):
        status, reason, stage ``deployment`` and ``at`` (None at start-up, before any clock)."""
        if row.status not in OPEN or not row.ref:
            return None
        why = self.other(row)
        if why is None:
            return None
        detail = f"another deployment: {why}"
        ended = {"status": str(ABORTED), "reason": detail, "at": now, "stage": "deployment"}
        self.plans.update(row.ref, ABORTED, ended=ended)
        log.warning("plan.other_deployment", plan=row.ref, was=row.status, reason=why)
        self.alert(
            AlertLevel.WARNING, OTHER_DEPLOYMENT, f"plan {row.ref} ({row.status}) ended: {why}",
            row.ref,
        )  # fmt: skip
        return CycleOutcome(row.ref, ABORTED, detail)

    def end_others(self, now: int | None = None) -> list[CycleOutcome]:
        """Every open plan (proposed, waiting, approved: half executed too) of another
        deployment ended, one warning alert each."""
        out = [self.end_if_other(row, now) for row in self.plans.with_status(*OPEN)]
        return [o for o in out if o is not None]


def check_bands(contracts: FundContracts, cfg: PlanningConfig) -> None:
    """The planner uses the controller's tier bands. L1_TARGET_RATIO .. L3_MAX_RATIO, when an
    operator sets them, must say the same: a disagreement is refused, not silently ignored."""
    names = ("target", "min", "max")
    # (the controller's `tier` alone: FundContracts.only)
    controller = contracts.only("controller", "tier")
    for t in range(3):
        try:
            on_chain = controller.functions.tier(t).call()
        except ContractLogicError:
            raise DeploymentError(
                f"controller {contracts.addresses.controller}: tier({t}) reverts: not a Ballast "
                "fund controller, or built from other sources"
            ) from None
        for name, value in zip(names, on_chain, strict=True):
            field = f"l{t + 1}_{name}_ratio"
            if field in cfg.model_fields_set and getattr(cfg, field) != int(value):
                raise ChainMismatchError(
                    f"{field.upper()}={getattr(cfg, field)} but the controller's L{t + 1} "
                    f"{name} is {int(value)} bps (the planner uses the on-chain bands: unset "
                    "the variable or make it match)"
                )
