"""The one way a route's transaction is sent and judged (keepers.crosschain.routes): a receipt
with status 0 is an error naming the call and the transaction, never a success; an approval is
sent only when the allowance is short."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from keepers.crosschain.routes import RouteError, approve_if_short, reverted, send_call
from keepers.crosschain.senders import StepFailed

TX = bytes.fromhex("ab" * 32)


def _call(data: str) -> Any:
    """A contract call as web3 builds it, enough for encoded_call."""
    return SimpleNamespace(_encode_transaction_data=lambda: data)


class _Sender:
    def __init__(self, status: int) -> None:
        self.status = status
        self.sent: list[tuple[str, bytes, int]] = []

    def send(self, w3: Any, to: str, data: bytes, value: int = 0) -> Any:
        self.sent.append((to, data, value))
        return {"status": self.status, "transactionHash": TX}


def test_send_call__mined__receipt_returned_value_passed():
    sender = _Sender(1)
    receipt = send_call(sender, None, "0xto", _call("0x1234"), "OFT send", value=7)
    assert receipt["status"] == 1
    assert sender.sent == [("0xto", b"\x12\x34", 7)]


@pytest.mark.parametrize("error", [RouteError, StepFailed])
def test_send_call__reverted__error_names_the_call_and_the_transaction(error):
    with pytest.raises(error, match=f"^transferFrom reverted in 0x{'ab' * 32}$"):
        send_call(_Sender(0), None, "0xto", _call("0x"), "transferFrom", error=error)


def test_reverted__hexbytes_or_bytes__one_0x_prefix():
    from hexbytes import HexBytes

    for h in (TX, HexBytes(TX)):
        assert (
            reverted({"transactionHash": h}, "lzReceive") == f"lzReceive reverted in 0x{'ab' * 32}"
        )


def _token(allowance: int) -> Any:
    """A token whose allowance reads ``allowance``."""
    functions = SimpleNamespace(
        allowance=lambda owner, spender: SimpleNamespace(call=lambda: allowance),
        approve=lambda spender, amount: _call("0x095ea7b3"),
    )
    return SimpleNamespace(address="0xtoken", functions=functions)


@pytest.mark.parametrize(("allowance", "approvals"), [(99, 1), (100, 0), (10**30, 0)])
def test_approve_if_short__approve_sent_only_under_the_amount(allowance, approvals):
    sender = _Sender(1)
    approve_if_short(sender, None, _token(allowance), "0xowner", "0xspender", 100)
    assert sender.sent == [("0xtoken", bytes.fromhex("095ea7b3"), 0)] * approvals
