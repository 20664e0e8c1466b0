"""Node errors mapped once to typed exceptions (safe-eth-py style)."""

from __future__ import annotations

from typing import Any

from keepers.core.errors import ChainError, Halted


class NodeError(ChainError, RuntimeError):
    """A JSON-RPC error the pipeline has no specific handling for (retried with backoff)."""

    def __init__(self, message: str, code: int | None = None, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


class NonceTooLow(NodeError):
    """The account's nonce is past ours: check whether one of our attempts was mined."""


class ReplacementUnderpriced(NodeError):
    """A transaction with this nonce is pending and ours does not bump its fees enough."""


class InsufficientFunds(NodeError):
    """The sender cannot pay value + gas * maxFeePerGas."""


class AlreadyKnown(NodeError):
    """The node already has exactly this transaction (a harmless re-broadcast)."""


class FeeTooLow(NodeError):
    """maxFeePerGas is below the block's base fee (or the node's price floor)."""


class ExecutionReverted(NodeError):
    """eth_call / eth_estimateGas reverted; ``data`` holds the raw revert data."""


_PATTERNS: tuple[tuple[tuple[str, ...], type[NodeError]], ...] = (
    (
        ("already known", "known transaction", "already imported", "transaction already exists"),
        AlreadyKnown,
    ),
    (("nonce too low", "noncetoolow", "nonce has already been used", "oldnonce"), NonceTooLow),
    (
        ("replacement transaction underpriced", "replacement fee too low", "underpriced"),
        ReplacementUnderpriced,
    ),
    (("insufficient funds", "insufficientfunds", "insufficient balance"), InsufficientFunds),
    (
        ("less than block base fee", "max fee per gas less than", "feecaptoolow", "fee cap less"),
        FeeTooLow,
    ),
    (("execution reverted", "revert"), ExecutionReverted),
)


def classify(error: dict[str, Any]) -> NodeError:
    """Turn a JSON-RPC ``error`` object into the matching typed exception."""
    message = str(error.get("message", error))
    lowered = message.lower().replace("_", " ")
    compact = lowered.replace(" ", "")
    for needles, cls in _PATTERNS:
        if any(n in lowered or n.replace(" ", "") in compact for n in needles):
            return cls(message, error.get("code"), error.get("data"))
    return NodeError(message, error.get("code"), error.get("data"))


class SignerConflict(Halted, RuntimeError):
    """Another process sends with this keeper's key: a transaction this keeper did not send
    used one of its nonces, or the account's nonce moved past everything it allocated. Two
    senders with one key can execute the same plan twice, so the pipeline halts for good (in
    this process) and the keeper stops with a critical alert; the operator must stop the other
    user of the key (or point every replica at one shared store) before restarting."""

    def __init__(self, account: str, detail: str) -> None:
        super().__init__(
            f"signer {account} is used by another sender ({detail}); stop the other process "
            "using this key, or run every replica on one shared store, then restart"
        )
        self.account = account
