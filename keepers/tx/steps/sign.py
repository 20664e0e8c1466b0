"""The pipeline's Sign and Validate steps (keepers.tx.pipeline): sign at the intent's nonce and
check that the signed transaction is the one built."""

from __future__ import annotations

from hexbytes import HexBytes
from sqlalchemy.orm import Session

from keepers.core.logging import get_logger
from keepers.store.models import utcnow
from keepers.store.rows import AttemptRow, IntentRow
from keepers.store.statuses import INTENT, transition
from keepers.store.statuses import IntentStatus as S
from keepers.tx.steps.build import BuildSteps
from keepers.tx.txcodec import keccak256
from keepers.tx.validate import Expected, check_signed

log = get_logger("keepers.pipeline")


class SignSteps(BuildSteps):
    """Sign and Validate."""

    # ==================================================================================
    # Sign
    # ==================================================================================

    def _sign(self, s: Session, intent: IntentRow, _pre: None = None) -> str:
        signer = self.signers[intent.sender.lower()]
        assert intent.nonce is not None and intent.gas_limit is not None
        tx = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": intent.nonce,
            "to": intent.target,  # lower case as stored; a remote signer gets it checksummed
            "value": intent.value,
            "data": intent.calldata,
            "gas": intent.gas_limit,
            "maxFeePerGas": intent.max_fee_per_gas,
            "maxPriorityFeePerGas": intent.max_priority_fee_per_gas,
        }
        raw = signer.sign_transaction(tx)
        tx_hash = "0x" + keccak256(raw).hex()
        attempt = {
            "intent_id": intent.id,
            "tx_hash": tx_hash,
            "raw_tx": HexBytes(raw).to_0x_hex(),
            "nonce": intent.nonce,
            "max_fee_per_gas": int(intent.max_fee_per_gas or 0),
            "max_priority_fee_per_gas": int(intent.max_priority_fee_per_gas or 0),
            "gas_limit": intent.gas_limit,
            "status": "signed",
            "sent_at_block": None,
            "created_at": utcnow(),
        }
        self._new_attempts.append((intent, attempt))  # inserted with the batch (_write_batch)
        self._unsaved_attempts[intent.id] = attempt
        transition(INTENT, intent, S.SIGNED)
        return self._log(s, intent, "sign", "ok", tx_hash=tx_hash)

    # ==================================================================================
    # Validate
    # ==================================================================================

    def _validate(self, s: Session, intent: IntentRow, _pre: None = None) -> str:
        # signed in this transaction (its row is inserted at the batch's write) or stored
        fresh = self._unsaved_attempts.get(intent.id)
        stored: AttemptRow | None = None
        if fresh is not None:
            raw, tx_hash = fresh["raw_tx"], fresh["tx_hash"]
        else:
            stored = self._attempt(intent, intent.current_attempt_id)
            raw, tx_hash = stored.raw_tx, stored.tx_hash
        assert intent.nonce is not None and intent.gas_limit is not None
        problems = check_signed(
            raw,
            Expected(
                chain_id=self.chain_id,
                sender=intent.sender,
                nonce=intent.nonce,
                target=intent.target,
                value=intent.value,
                data=intent.calldata,
                gas=intent.gas_limit,
                max_fee_per_gas=int(intent.max_fee_per_gas or 0),
                max_priority_fee_per_gas=int(intent.max_priority_fee_per_gas or 0),
                fee_cap=int(intent.fee_cap or 0),
            ),
        )
        # a stored attempt's hash is checked against its bytes (a row written by a build that
        # crashed, or edited); one signed in this transaction was hashed from these bytes
        if stored is not None and "0x" + keccak256(HexBytes(raw)).hex() != tx_hash:
            problems.append("recorded hash does not match the signed bytes")
        status = "invalid" if problems else "validated"
        if fresh is not None:
            fresh["status"] = status
        else:
            assert stored is not None  # set above when nothing was signed in this transaction
            stored.status = status
        if problems:
            intent.error = "validate refused: " + "; ".join(problems)
            if any(a.status in ("broadcast", "replaced") for a in intent.attempts):
                # a replacement was refused; the earlier attempt may still be mined
                transition(INTENT, intent, S.BROADCAST)
                intent.checked_block = -1
            else:
                transition(INTENT, intent, S.INVALID)
                self._release_nonce(s, intent, "invalid")
            return self._log(s, intent, "validate", "refused", problems=problems)
        transition(INTENT, intent, S.VALIDATED)
        return self._log(s, intent, "validate", "ok", tx_hash=tx_hash)
