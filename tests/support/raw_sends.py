"""Many transactions of one test account sent raw: signed at consecutive nonces and sent
straight to the node (one request each), every receipt then checked. For a test that needs a
hundred of the same call (a bank run queued as 100 requests) where ape's per-transaction
preparation (estimate, fee and nonce look-ups, receipt decoding: about ten node requests each)
would be most of the test's time. Each call is still its own transaction from the account, in
the order given, and any that did not succeed fails the test with its index."""

from __future__ import annotations

from typing import Any

from eth_account import Account


def send_each(chain: Any, sender: Any, method: Any, calls: list[tuple[Any, ...]]) -> list[Any]:
    """``method(*args, sender=sender)`` for each ``args`` in ``calls``, in order; the receipts.
    The gas limit is three times the first call's estimate (a call needing more fails here,
    by its status)."""
    w3 = chain.provider.web3
    if not calls:
        return []
    to = method.contract.address
    gas = 3 * int(method.estimate_gas_cost(*calls[0], sender=sender))
    gas_price = 2 * int(w3.eth.gas_price) + 1
    chain_id = int(w3.eth.chain_id)
    nonce = int(w3.eth.get_transaction_count(sender.address, "pending"))
    acct = Account.from_key(sender.private_key)
    hashes = []
    for i, args in enumerate(calls):
        tx = {
            "to": to,
            "data": method.encode_input(*args),
            "gas": gas,
            "gasPrice": gas_price,
            "nonce": nonce + i,
            "chainId": chain_id,
            "value": 0,
        }
        hashes.append(w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction))
    receipts = [
        w3.eth.wait_for_transaction_receipt(h, timeout=60, poll_latency=0.05) for h in hashes
    ]
    failed = [i for i, r in enumerate(receipts) if r["status"] != 1]
    assert not failed, f"{method.abis[-1].name}: calls {failed} of {len(calls)} did not succeed"
    return receipts
