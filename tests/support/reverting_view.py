"""One view of a deployed contract made to revert for outside callers only (anvil_setCode):
the contract's code is copied to a spare address and the contract's address given a small
proxy that reverts one selector when called from an eth_call's or a transaction's top frame
(CALLER == ORIGIN) and delegates every other call to the copy, so the contract keeps its
storage and answers every other caller (a lens reading it, the contract's own calls)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from eth_utils import to_checksum_address

SPARE = "0x00000000000000000000000000000000000b1a57"  # where the real code is copied


def reverting_proxy(selector: bytes, impl: str) -> bytes:
    """Runtime code: revert `selector` when called from the top frame (CALLER == ORIGIN),
    delegate every other call to ``impl`` (the contract's code, run on this address's
    storage)."""
    code = (
        bytes.fromhex("600035" "60e0" "1c" "63") + selector  # selector of the calldata
        + bytes.fromhex("14" "33" "32" "14" "16" "6049" "57")  # == sel and caller == origin
        + bytes.fromhex("36" "6000" "6000" "37" "6000" "6000" "36" "6000" "73")
        + bytes.fromhex(impl[2:])
        + bytes.fromhex("5a" "f4" "3d" "6000" "6000" "3e" "6044" "57" "3d" "6000" "fd")
        + bytes.fromhex("5b" "3d" "6000" "f3")  # 0x44: return what the copy returned
        + bytes.fromhex("5b" "6000" "6000" "fd")  # 0x49: revert, no data
    )  # fmt: skip
    assert code[0x44] == 0x5B and code[0x49] == 0x5B
    return code


@contextmanager
def view_reverts(chain: Any, address: str, selector: str) -> Iterator[None]:
    """``selector`` (0x and 8 hex digits) of the contract at ``address`` reverts for outside
    callers meanwhile; the contract's own code is put back after."""
    w3 = chain.provider.web3
    address = to_checksum_address(address)
    code = bytes(w3.eth.get_code(address))
    chain.provider.make_request("anvil_setCode", [SPARE, "0x" + code.hex()])
    proxy = reverting_proxy(bytes.fromhex(selector[2:]), SPARE)
    chain.provider.make_request("anvil_setCode", [address, "0x" + proxy.hex()])
    try:
        yield
    finally:
        chain.provider.make_request("anvil_setCode", [address, "0x" + code.hex()])
