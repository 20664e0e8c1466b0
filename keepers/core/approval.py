"""Approval policy (seed 001 section 6.1), shared by the fund and the cross-chain slices: its
terms (``ApprovalPolicy``, the seed's environment names) and the pure decision, plan total +
decisions + now -> status. ``keepers.fund.planning.config.PlanningConfig`` extends the terms
with the fund's planning variables; the cross-chain slice reads the terms alone.

| plan total (whole units)     | requirement                       | SLA                        |
|------------------------------|-----------------------------------|----------------------------|
| < APPROVAL_REVIEW_AMOUNT 10K | none                              | -                          |
| 10K <= total < 50K           | automatic, flagged for review     | -                          |
| 50K <= total <= 200K         | one admin                         | APPROVAL_SINGLE_SLA_HOURS 2 |
| > 200K                       | APPROVAL_MULTISIG_REQUIRED (2) of the admins (3) | 4 hours     |

50K is REBALANCE_APPROVAL_THRESHOLD. Amounts compare in base units (whole x 10^decimals),
never a 1e18 factor applied to a 6-decimal stablecoin (the seed's bug).

Rules: only configured admins count (case-insensitive addresses); an admin counts once
however many times they approve; a rejection by any admin rejects; decisions before the
request, after the SLA deadline or after ``now`` do not count; once the deadline passes without enough
approvals the request is expired (an approval reached in time stays approved).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from keepers.core.settings import ConfigError

HOUR = 3_600
Whole = Annotated[int, Field(ge=0)]


class ApprovalPolicy(BaseSettings):
    """The approval tiers. Env names are the upper-cased field names (no prefix, as in seed
    001 sections 6.1 and 8.1); amounts are whole stablecoins."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=False)

    rebalance_approval_threshold: Whole = 50_000  # whole; single-admin approval from here
    approval_review_amount: Whole = 10_000  # whole; below: no approval
    approval_multisig_amount: Whole = 200_000  # whole; above: 2 of 3 admins
    approval_single_sla_hours: Annotated[int, Field(gt=0)] = 2
    approval_multisig_sla_hours: Annotated[int, Field(gt=0)] = 4
    approval_multisig_required: Annotated[int, Field(gt=0)] = 2
    rebalance_admins: Annotated[tuple[str, ...], NoDecode] = ()  # comma-separated

    @field_validator("rebalance_admins", mode="before")
    @classmethod
    def _split_admins(cls, v: Any) -> Any:
        if isinstance(v, str):
            return tuple(a.strip() for a in v.split(",") if a.strip())
        return v

    @field_validator("rebalance_admins", mode="after")
    @classmethod
    def _admins_are_addresses_or_names(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        """Each admin is an address (0x and 40 hex digits, a valid EIP-55 checksum when mixed
        case) or an operator's name (letters, digits, ``. _ -``): an entry that is neither
        (a truncated address, two addresses separated by a space instead of a comma) is
        refused naming it, before the counts are compared (it was reported as
        ``APPROVAL_MULTISIG_REQUIRED=2: more than 1 admins``)."""
        for i, admin in enumerate(v):
            why = _bad_admin(admin)
            if why:
                raise ConfigError(
                    f"REBALANCE_ADMINS={admin!r}: admin {i + 1} of {len(v)} {why} "
                    "(REBALANCE_ADMINS is a comma-separated list of addresses or names)"
                )
        return v

    @model_validator(mode="after")
    def _check_tiers(self) -> ApprovalPolicy:
        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(f"{name.upper()}={getattr(self, name)!r}: {why}")

        if not self.approval_review_amount <= self.rebalance_approval_threshold:
            raise bad("approval_review_amount", "must be <= REBALANCE_APPROVAL_THRESHOLD")
        if not self.rebalance_approval_threshold <= self.approval_multisig_amount:
            raise bad("approval_multisig_amount", "must be >= REBALANCE_APPROVAL_THRESHOLD")
        if self.approval_single_sla_hours > self.approval_multisig_sla_hours:
            raise bad("approval_single_sla_hours", "must be <= APPROVAL_MULTISIG_SLA_HOURS")
        if self.rebalance_admins and self.approval_multisig_required > len(self.rebalance_admins):
            raise bad(
                "approval_multisig_required", f"more than {len(self.rebalance_admins)} admins"
            )
        return self


_HEX_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,63}$")


def _bad_admin(admin: str) -> str:
    """Why ``admin`` is neither an address nor a name; empty when it is one."""
    if admin[:2].lower() == "0x":
        if not _HEX_ADDRESS.match(admin):
            return "is not an address (0x and 40 hex digits)"
        body = admin[2:]
        if body != body.lower() and body != body.upper():
            from eth_utils import is_checksum_address

            if not is_checksum_address(admin):
                return "is not an address: its mixed case fails the EIP-55 checksum"
        return ""
    if not _NAME.match(admin):
        return "is neither an address (0x and 40 hex digits) nor a name (letters, digits, . _ -)"
    return ""


class Requirement(StrEnum):
    NONE = "none"
    AUTO_REVIEW = "auto_review"
    SINGLE_ADMIN = "single_admin"
    MULTI_ADMIN = "multi_admin"


class ApprovalStatus(StrEnum):
    NOT_REQUIRED = "not_required"
    AUTO_FLAGGED = "auto_flagged"  # runs now, reviewed afterwards
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def may_execute(self) -> bool:
        return self in (self.NOT_REQUIRED, self.AUTO_FLAGGED, self.APPROVED)


@dataclass(frozen=True)
class ApprovalRecord:
    admin: str  # address or operator id
    at: int  # unix seconds
    approve: bool  # False = rejection
    note: str = ""
    signature: str = ""  # 0x hex EIP-712 signature of the plan hash (signed approvals)
    plan_hash: str = ""  # 0x hex: the plan hash the signature was made for


@dataclass(frozen=True)
class ApprovalDecision:
    status: ApprovalStatus
    requirement: Requirement
    required: int  # approvals needed (0 when none)
    approvals: tuple[str, ...]  # distinct admins who approved in time
    deadline: int | None  # SLA deadline, None when no human approval is needed
    detail: str


def requirement(total: int, base_decimals: int, config: ApprovalPolicy) -> Requirement:
    """Which approval a plan total (base units) needs."""
    unit = 10**base_decimals
    if total < config.approval_review_amount * unit:
        return Requirement.NONE
    if total < config.rebalance_approval_threshold * unit:
        return Requirement.AUTO_REVIEW
    if total <= config.approval_multisig_amount * unit:
        return Requirement.SINGLE_ADMIN
    return Requirement.MULTI_ADMIN


def decide(
    total: int,
    base_decimals: int,
    requested_at: int,
    records: Sequence[ApprovalRecord],
    now: int,
    config: ApprovalPolicy,
) -> ApprovalDecision:
    """The approval status of a plan of ``total`` base units requested at ``requested_at``."""
    req = requirement(total, base_decimals, config)
    if req is Requirement.NONE:
        return ApprovalDecision(ApprovalStatus.NOT_REQUIRED, req, 0, (), None, "below review")
    if req is Requirement.AUTO_REVIEW:
        return ApprovalDecision(
            ApprovalStatus.AUTO_FLAGGED, req, 0, (), None, "runs now, flagged for review"
        )
    if req is Requirement.SINGLE_ADMIN:
        required, hours = 1, config.approval_single_sla_hours
    else:
        required, hours = config.approval_multisig_required, config.approval_multisig_sla_hours
    deadline = requested_at + hours * HOUR
    admins = {a.lower() for a in config.rebalance_admins}
    valid = sorted(
        (
            r
            for r in records
            if r.admin.lower() in admins and requested_at <= r.at <= min(deadline, now)
        ),
        key=lambda r: r.at,
    )
    approvers: list[str] = []
    for r in valid:
        who = r.admin.lower()
        if not r.approve:
            return ApprovalDecision(
                ApprovalStatus.REJECTED,
                req,
                required,
                tuple(approvers),
                deadline,
                f"rejected by {r.admin} at {r.at}",
            )
        if who not in approvers:
            approvers.append(who)
        if len(approvers) >= required:
            return ApprovalDecision(
                ApprovalStatus.APPROVED,
                req,
                required,
                tuple(approvers),
                deadline,
                f"{len(approvers)} of {required} approvals by {r.at}",
            )
    status = ApprovalStatus.EXPIRED if now > deadline else ApprovalStatus.PENDING
    return ApprovalDecision(
        status,
        req,
        required,
        tuple(approvers),
        deadline,
        f"{len(approvers)} of {required} approvals, deadline {deadline}",
    )
