"""Transactions of a test account sent raw: signed here and sent straight to the node (one
request each), then their receipts read. For a test that needs a hundred calls (a bank run
queued as 100 requests, every setter tried by every role) where ape's per-transaction
preparation (a gas estimate, fee and nonce look-ups, receipt decoding, a revert's trace: about
ten node requests each) would be most of the test's time. Each call is still its own
transaction from the account, sent once the one before it is mined (anvil's automine can
strand a transaction of a burst in its pool: foundry-rs/foundry#10122); the caller sees every
receipt's status."""

from __future__ import annotations

from typing import Any

from eth_account import Account

WHOLE_CALL_GAS = 25_000_000  # under the block's limit: no call here is refused for gas


def _sign_and_send(chain: Any, sender: Any, to: str, datas: list[bytes], gas: int) -> list[Any]:
    w3 = chain.provider.web3
    acct = Account.from_key(sender.private_key)
    # the block's base fee, doubled: on the test chain 0, so a call's gas limit needs no ETH
    gas_price = 2 * int(w3.eth.get_block("latest").get("baseFeePerGas") or 0)
    chain_id = int(w3.eth.chain_id)
    nonce = int(w3.eth.get_transaction_count(sender.address, "pending"))
    receipts = []
    for i, data in enumerate(datas):
        tx = {"to": to, "data": bytes(data), "gas": gas, "gasPrice": gas_price,
              "nonce": nonce + i, "chainId": chain_id, "value": 0}  # fmt: skip
        sent = w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction)
        # one in the pool at a time: anvil's automine can leave a ready transaction of a burst
        # in the pool unmined (foundry-rs/foundry#10122; a CI run waited 60 s on one, and its
        # leftovers failed the module's next test with "nonce too low")
        receipts.append(w3.eth.wait_for_transaction_receipt(sent, timeout=60, poll_latency=0.05))
    return receipts


def send_raw(chain: Any, sender: Any, method: Any, *args: Any) -> bool:
    """``method(*args, sender=sender)`` as one raw transaction with the gas of a whole call
    (:data:`WHOLE_CALL_GAS`): whether it succeeded. A refused call is mined as reverted, its
    effects undone, as ape's call would have left the chain (ape sends nothing when its
    estimate reverts)."""
    (receipt,) = _sign_and_send(
        chain, sender, method.contract.address, [method.encode_input(*args)], WHOLE_CALL_GAS
    )
    return receipt["status"] == 1


def send_each(chain: Any, sender: Any, method: Any, calls: list[tuple[Any, ...]]) -> list[Any]:
    """``method(*args, sender=sender)`` for each ``args`` in ``calls``, in order; the receipts.
    The gas limit is three times the first call's estimate; any call that did not succeed
    fails the test with its index."""
    if not calls:
        return []
    gas = 3 * int(method.estimate_gas_cost(*calls[0], sender=sender))
    datas = [method.encode_input(*args) for args in calls]
    receipts = _sign_and_send(chain, sender, method.contract.address, datas, gas)
    failed = [i for i, r in enumerate(receipts) if r["status"] != 1]
    assert not failed, f"{method.abis[-1].name}: calls {failed} of {len(calls)} did not succeed"
    return receipts
