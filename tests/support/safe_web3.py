"""Safe transactions over plain web3, for tests that drive a chain from outside ape (the
operator's path: a node declared as a real network, where the deploy holds no owner's key).

What the Safe's owners do on a real network for each line of the hand-over checklist: the Safe
transaction hash (EIP-712, the Safe's own ``getTransactionHash`` at its current nonce), one
ECDSA signature per owner over that hash, packed r|s|v in ascending owner address order, then
``execTransaction`` sent by any account with gas (the owners sign off-line and send nothing).
The packing is ballast_dev.deployment.safe's (``pack_signatures``) and plan_approval's
(``pack_signature``), imported: both load without ape; the SafeL2 ABI is the npm artifact's.
"""

from __future__ import annotations

from typing import Any

from eth_account import Account
from web3 import Web3
from web3.logs import DISCARD

from ballast_dev.deployment import npm_artifacts
from ballast_dev.deployment.safe import ARTIFACTS, ZERO, SafeDeploymentError, pack_signatures
from keepers.fund.planning.plan_approval import pack_signature


def safe_at(w3: Web3, address: str) -> Any:
    """The Safe at ``address`` as a web3 contract with the SafeL2 ABI."""
    abi = npm_artifacts.artifact(ARTIFACTS["SafeL2"], SafeDeploymentError)["abi"]
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi)


def safe_tx_hash(safe: Any, to: str, data: bytes | str, *, value: int = 0) -> bytes:
    """The hash the owners sign for a plain CALL (no refund, no gas token) at the Safe's
    current nonce, computed by the Safe itself."""
    nonce = safe.functions.nonce().call()
    data_b = bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else data
    return bytes(
        safe.functions.getTransactionHash(
            Web3.to_checksum_address(to), value, data_b, 0, 0, 0, 0, ZERO, ZERO, nonce
        ).call()
    )


def owner_signatures(tx_hash: bytes, owner_keys: list[bytes | str]) -> bytes:
    """Each owner's raw-hash signature (v in {27, 28}), packed in ascending owner order."""
    sigs = {}
    for k in owner_keys:
        acct = Account.from_key(k)
        s = acct.unsafe_sign_hash(tx_hash)
        sigs[acct.address] = pack_signature(s.v, s.r, s.s)
    return pack_signatures(sigs)


def exec_call(
    safe: Any, to: str, data: bytes | str, owner_keys: list[bytes | str], *, value: int = 0
) -> Any:
    """The ``execTransaction`` call (unsent) of a CALL to ``to`` signed by ``owner_keys``."""
    h = safe_tx_hash(safe, to, data, value=value)
    data_b = bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else data
    return safe.functions.execTransaction(
        Web3.to_checksum_address(to),
        value,
        data_b,
        0,
        0,
        0,
        0,
        ZERO,
        ZERO,
        owner_signatures(h, owner_keys),
    )


def exec_safe_tx(
    w3: Web3,
    safe: Any,
    to: str,
    data: bytes | str,
    owner_keys: list[bytes | str],
    sender_key: bytes | str,
    *,
    value: int = 0,
) -> Any:
    """Signs a CALL by ``owner_keys`` and has ``sender_key`` (any funded account) send
    ``execTransaction``; returns the receipt, asserting success and the Safe's own
    ExecutionSuccess (a Safe whose inner call reverts still mines, with ExecutionFailure)."""
    sender = Account.from_key(sender_key)
    tx = exec_call(safe, to, data, owner_keys, value=value).build_transaction(
        {"from": sender.address, "nonce": w3.eth.get_transaction_count(sender.address)}
    )
    h = w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(h, timeout=60)
    assert receipt["status"] == 1, receipt
    ok = safe.events.ExecutionSuccess().process_receipt(receipt, errors=DISCARD)
    assert len(ok) == 1, f"the Safe's inner call failed: {receipt}"
    return receipt
