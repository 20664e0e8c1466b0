"""Audit policy (pure): allowed (contract, selector) per role, value caps, daily notional caps."""

from __future__ import annotations

from dataclasses import dataclass

from keepers.core.settings import PolicyConfig


@dataclass(frozen=True)
class AuditRequest:
    kind: str  # call | filler
    role: str
    sender: str
    target: str
    calldata: str
    value: int
    notional: int
    max_fee_per_gas: int
    fee_cap: int


@dataclass(frozen=True)
class AuditDecision:
    allowed: bool
    rule: str
    detail: str = ""


def audit(req: AuditRequest, policy: PolicyConfig, notional_today: int) -> AuditDecision:
    """Check one intent. ``notional_today`` is what the role already had approved today (UTC).

    Rules, first failing one wins: ``filler-self-transfer`` (built-in, for nonce fillers),
    ``unknown-role``, ``call-not-allowed``, ``value-cap``, ``daily-notional-cap``, ``fee-cap``.
    """
    if req.max_fee_per_gas > req.fee_cap:
        return AuditDecision(
            False, "fee-cap", f"maxFeePerGas {req.max_fee_per_gas} > {req.fee_cap}"
        )
    if req.kind == "filler":
        ok = (
            req.target.lower() == req.sender.lower()
            and req.value == 0
            and req.calldata in ("", "0x")
        )
        return AuditDecision(
            ok, "filler-self-transfer", "" if ok else "filler must be a 0-value self-send"
        )
    role = policy.roles.get(req.role)
    if role is None:
        return AuditDecision(False, "unknown-role", f"no policy for role {req.role!r}")
    selector = req.calldata[:10].lower() if len(req.calldata) >= 10 else "0x"
    target = req.target.lower()
    if not any(a.contract == target and a.selector in ("*", selector) for a in role.allowed):
        return AuditDecision(
            False, "call-not-allowed", f"role {req.role!r} may not call {selector} on {target}"
        )
    if req.value > role.max_value_wei:
        return AuditDecision(False, "value-cap", f"value {req.value} > cap {role.max_value_wei}")
    cap = role.daily_notional_cap
    if cap is not None and notional_today + req.notional > cap:
        return AuditDecision(
            False,
            "daily-notional-cap",
            f"{notional_today} approved today + {req.notional} > daily cap {cap}",
        )
    return AuditDecision(True, "allowed")
