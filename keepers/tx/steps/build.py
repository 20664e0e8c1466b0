"""The pipeline's Build and Audit steps (keepers.tx.pipeline): simulate and estimate, allocate
the nonce, check the policy; a refused intent hands its nonce to a filler."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from keepers.core.logging import get_logger
from keepers.store.models import TxIntent, utcnow
from keepers.store.rows import IntentRow, write_changes
from keepers.store.statuses import INTENT, transition
from keepers.store.statuses import IntentStatus as S
from keepers.tx import fees as feelib
from keepers.tx.errors import ExecutionReverted, NodeError
from keepers.tx.node import revert_data, rpc_tx
from keepers.tx.policy import AuditRequest, audit
from keepers.tx.steps.batch import StepBatch

log = get_logger("keepers.pipeline")

FILLER_GAS = 21_000


class BuildSteps(StepBatch):
    """Build and Audit."""

    # ==================================================================================
    # Build
    # ==================================================================================

    def _fee_cap(self, intent: IntentRow) -> int:
        return min(
            self.settings.max_fee_cap_wei,
            int(intent.fee_policy.get("max_fee_cap_wei", self.settings.max_fee_cap_wei)),
        )

    def _suggest(self, intent: IntentRow) -> feelib.Fees:
        floor = int(intent.fee_policy.get("priority_fee_wei", self.settings.priority_fee_wei))
        return feelib.suggest_fees(
            self.node.fee_history(self.settings.fee_history_blocks), floor, self._fee_cap(intent)
        )

    def _prefetch_build(self, intents: list[IntentRow]) -> dict[int, Any]:
        """eth_call (the simulation) and eth_estimateGas against the pending block, for the
        whole batch in one round trip."""
        calls: list[tuple[str, list[Any]]] = []
        for it in intents:
            tx = rpc_tx(
                {"from": it.sender, "to": it.target, "data": it.calldata, "value": it.value}
            )
            calls += [("eth_call", [tx, "pending"]), ("eth_estimateGas", [tx, "pending"])]
        results = self.node.batch(calls)
        return {it.id: (results[2 * i], results[2 * i + 1]) for i, it in enumerate(intents)}

    def _build(self, s: Session, intent: IntentRow, pre: tuple[Any, Any]) -> str:
        simulated, estimate = pre
        for res in (simulated, estimate):
            if isinstance(res, ExecutionReverted):
                data = revert_data(res)
                reason = self.decoder.describe(data)
                transition(INTENT, intent, S.FAILED)
                intent.error = f"simulation reverted: {reason}"
                return self._log(s, intent, "build", "reverted", reason=reason, data=data)
            if isinstance(res, NodeError):
                raise res
        gas = int(estimate, 16)
        fees = self._suggest(intent)
        intent.gas_limit = gas * (10_000 + self.settings.gas_margin_bps) // 10_000
        intent.max_fee_per_gas = fees.max_fee_per_gas
        intent.max_priority_fee_per_gas = fees.max_priority_fee_per_gas
        intent.fee_cap = self._fee_cap(intent)
        intent.nonce = self.nonces.allocate(s, intent.sender)
        transition(INTENT, intent, S.BUILT)
        intent.error = None
        return self._log(
            s,
            intent,
            "build",
            "ok",
            gas=intent.gas_limit,
            max_fee=fees.max_fee_per_gas,
            tip=fees.max_priority_fee_per_gas,
        )

    # ==================================================================================
    # Audit
    # ==================================================================================

    def _audit(self, s: Session, intent: IntentRow, _pre: None = None) -> str:
        role = self.settings.policy.roles.get(intent.role)
        capped = role is not None and role.daily_notional_cap is not None and intent.kind == "call"
        day = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        if capped and self.store.dialect == "postgresql":
            # replicas audit one role's notional one at a time, so the cap holds across them
            s.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"notional:{intent.role}"}
            )
        if capped:
            # the batch's audits so far count: written first, as an ORM autoflush would
            write_changes(s.connection(), self._batch, utcnow())
        approved = (
            []
            if not capped
            else s.scalars(
                select(TxIntent.notional).where(
                    TxIntent.role == intent.role,
                    TxIntent.audited_at >= day,
                    TxIntent.status.not_in(("rejected", "invalid")),
                    TxIntent.id != intent.id,
                )
            ).all()
        )
        decision = audit(
            AuditRequest(
                kind=intent.kind,
                role=intent.role,
                sender=intent.sender,
                target=intent.target,
                calldata=intent.calldata,
                value=intent.value,
                notional=intent.notional,
                max_fee_per_gas=int(intent.max_fee_per_gas or 0),
                fee_cap=int(intent.fee_cap or 0),
            ),
            self.settings.policy,
            sum(int(n) for n in approved),
        )
        if not decision.allowed:
            transition(INTENT, intent, S.REJECTED)
            intent.error = f"audit denied by rule {decision.rule}: {decision.detail}"
            self._release_nonce(s, intent, "rejected")
            return self._log(
                s, intent, "audit", "denied", rule=decision.rule, detail=decision.detail
            )
        transition(INTENT, intent, S.AUDITED)
        intent.audited_at = utcnow()
        return self._log(s, intent, "audit", "ok", rule=decision.rule)

    def _release_nonce(self, s: Session, intent: IntentRow, why: str) -> None:
        """An intent given up after its nonce was allocated: a filler keeps the nonce
        sequence gap-free (0-value self-send, its own intent through the same steps)."""
        if intent.nonce is None or any(a.status == "broadcast" for a in intent.attempts):
            return
        if intent.kind == "filler":  # a refused filler: no filler for the filler
            log.error("nonce.gap", account=intent.sender, nonce=intent.nonce, intent=intent.id)
            return
        filler = TxIntent(
            idempotency_key=f"filler:{self.chain_id}:{intent.sender}:{intent.nonce}:{intent.id}",
            kind="filler",
            role=intent.role,
            chain_id=intent.chain_id,
            sender=intent.sender,
            target=intent.sender,
            calldata="0x",
            value=0,
            notional=0,
            fee_policy={},
            status=INTENT.start(S.BUILT),
            nonce=intent.nonce,
            gas_limit=FILLER_GAS,
            max_fee_per_gas=intent.max_fee_per_gas,
            max_priority_fee_per_gas=intent.max_priority_fee_per_gas,
            fee_cap=intent.fee_cap,
        )
        s.add(filler)
        s.flush()
        self._log(
            s,
            intent,
            "audit" if why == "rejected" else "validate",
            "nonce-filler",
            filler=filler.id,
            nonce=intent.nonce,
        )
