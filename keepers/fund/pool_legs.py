"""A pool leg's call, made just before it is sent (keepers.fund.execution): simulated alone on
the block read at the loosest minOut allowed (behind a PlanExecutor, its signed band against the
oracle now; else the oracle less the slippage stop), then sent with minOut at the simulated fill
less the fill tolerance; refused, or its plan made stale, when the fill is past the stop."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from typing import Any

from web3 import Web3

from keepers.fund.actions import EncodedCall
from keepers.fund.execution_services import ExecutionServices
from keepers.fund.plan_docs import result_to_dict
from keepers.fund.planning import plan_approval
from keepers.fund.planning import risk as riskmod
from keepers.fund.planning.actions import Action, ActionResult
from keepers.fund.planning.fills import min_out_from_fill, purchase_cash_floor, redeem_floor
from keepers.fund.planning.state import BPS
from keepers.fund.reader import FundReading
from keepers.runtime.alerts import AlertLevel
from keepers.tx.simulation import SimCall, SimStep


class PoolLegs:
    """An execution pass's legs: the frozen calls and the signed plan they are checked against
    (set by the pass, keepers.fund.execution.Execution)."""

    s: ExecutionServices
    frozen_calls: dict[int, EncodedCall]  # by position in the frozen order
    signed: plan_approval.SignedPlan | None
    sigs: list[bytes]
    leg_stale: str | None

    def _refuse(self, ref: str, idx: int, order: int, action: Action, msg: str) -> None:
        self.s.alert(AlertLevel.CRITICAL, "slippage", msg, ref)
        res = ActionResult(action, False, error=msg)
        self.s.plans.record_action(ref, idx, "skipped", result=result_to_dict(res), order=order)

    def _leg(
        self,
        ref: str,
        idx: int,
        order: int,
        action: Action,
        before: FundReading,
        quote: riskmod.Quote | None,
    ) -> tuple[EncodedCall, int | None] | None:
        """The call to send for ``action`` and the fill simulated for it (None for a leg with
        no pool). A pool leg is simulated alone on ``before.block`` with the loosest minOut
        allowed (behind a PlanExecutor its signed band against the oracle now, else the oracle
        less SLIPPAGE_BLOCK_BPS); its minOut is then the fill less REBALANCE_FILL_TOLERANCE_BPS.
        None when it is not sent: refused (recorded) when the fill is past the stop, or (behind
        an executor) ``leg_stale`` set when it cannot be sent within its band."""
        frozen = self.frozen_calls
        pool = quote is not None and self.s.simulate_call is not None
        if frozen:
            assert self.signed is not None
            declared = self.signed.actions[order]
            if not (pool and plan_approval.is_pool_leg(declared)):
                # exactly the approved calldata (an ERC-4626 or async leg: at the band's floor)
                return frozen[order], None
            band = self.signed.max_slippage_bps[order]
            floor = self._band_floor(before, declared, band, before.block)
        else:
            if not pool or action.type.value not in ("purchaseAsset", "redeemAsset"):
                return self.s.encoder.encode(before, action, quote), None
            assert quote is not None
            declared, band = b"", self.s.cfg.slippage_block_bps
            floor = quote.oracle_out * (BPS - band) // BPS
        assert quote is not None and self.s.simulate_call is not None
        probe = self._call_with(before, action, quote, declared, order, floor)
        step = self.s.simulate_call(
            before.block,
            SimCall(self.s.sender(), probe.target, probe.calldata, probe.function),
        )
        priced = "SlippageExceeded" in (step.error or "") or "LegOutsideBand" in (step.error or "")
        if not step.ok and not priced:
            # refused for another reason (approvals, a pause, a venue): sent as it stands, with
            # the pool's quote as its fill, so the chain says why (recorded as the action's
            # failure); never looser than a fill the keeper saw
            min_out = min_out_from_fill(quote.quote_out, floor, self.s.cfg)
            return self._call_with(before, action, quote, declared, order, min_out), None
        if not step.ok:
            why = (
                f"action {idx} ({probe.function}) cannot fill within {band} bps under the oracle "
                f"now (simulated: {step.error})"
            )
            if frozen:
                self.leg_stale = why + ": never sent looser than signed"
            else:
                self._refuse(ref, idx, order, action, why + ": not sent")
            return None
        fill = self._decoded_fill(step, through_executor=bool(frozen))
        bps = riskmod.slippage_bps(fill, quote.oracle_out)
        if bps > self.s.cfg.slippage_block_bps:
            msg = f"action {idx}: simulated fill {bps} bps under the oracle > {self.s.cfg.slippage_block_bps}: not sent"
            self._refuse(ref, idx, order, action, msg)
            return None
        min_out = min_out_from_fill(fill, floor, self.s.cfg)
        return self._call_with(before, action, quote, declared, order, min_out), fill

    def _call_with(
        self,
        before: FundReading,
        action: Action,
        quote: riskmod.Quote,
        declared: bytes,
        order: int,
        min_out: int,
    ) -> EncodedCall:
        """The pool leg with ``min_out``: through the executor (its signed aim) or direct."""
        if not declared:
            direct = self.s.encoder.encode(before, action, quote)
            data = bytes.fromhex(direct.calldata.removeprefix("0x"))
            data = plan_approval.with_min_out(data, min_out)
            return replace(direct, calldata="0x" + data.hex(), min_out=min_out)
        assert self.signed is not None and self.s.contracts.executor is not None
        leg = plan_approval.with_min_out(declared, min_out)
        data = plan_approval.encode_execute_action(self.signed, order, self.sigs, leg)
        fn = self.frozen_calls[order].function
        return EncodedCall(
            self.s.contracts.executor.address, "0x" + data.hex(), fn, (order,), min_out
        )

    def _decoded_fill(self, step: SimStep, through_executor: bool) -> int:
        """What the simulated purchaseAsset / redeemAsset returned (executeAction wraps it in
        ``bytes``)."""
        raw = bytes.fromhex((step.return_data or "0x").removeprefix("0x"))
        codec = self.s.w3.codec
        if through_executor:
            raw = bytes(codec.decode(["bytes"], raw)[0])
        return int(codec.decode(["uint256"], raw)[0])

    def _band_floor(self, reading: FundReading, declared: bytes, band: int, block: Any) -> int:
        """The loosest minOut the executor takes for the pool leg ``declared`` under ``band``,
        with the oracle at ``block`` (its own rule: keepers.fund.planning.fills)."""
        token = Web3.to_checksum_address(declared[16:36])
        amount = int.from_bytes(declared[36:68], "big")
        if declared[:4] == plan_approval.PURCHASE_SELECTOR:
            cash = purchase_cash_floor(amount, band)
            return self.s.encoder.tokens_worth(reading, token, cash, block)
        return redeem_floor(self.s.encoder.oracle_value_of(token, amount, block), band)

    def _floor_legs(self, reading: FundReading, skip: Collection[int]) -> dict[int, bytes]:
        """Position -> each pool leg not yet sent at its band's floor at ``reading``."""
        assert self.signed is not None
        out = {}
        for k, declared in enumerate(self.signed.actions):
            if k in skip or not plan_approval.is_pool_leg(declared):
                continue
            band = self.signed.max_slippage_bps[k]
            floor = self._band_floor(reading, declared, band, reading.block)
            out[k] = plan_approval.with_min_out(declared, floor)
        return out
