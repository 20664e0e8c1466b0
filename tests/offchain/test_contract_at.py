"""`keepers.tx.contracts.contract_at`: web3's contract class built once per connection and ABI.

The handle it gives is the one `w3.eth.contract(address, abi=...)` gives: the same address,
functions, events and calldata; the class is shared only on one connection (another `Web3`
gets its own class, bound to it), and only for the same ABI object."""

from __future__ import annotations

import pytest
from web3 import Web3

from keepers import abis
from keepers.tx.contracts import contract_at

ADDR = "0x" + "ab" * 20


@pytest.mark.parametrize("name", ["TieredVault", "AssetController", "FundLens", "PlanExecutor"])
def test_contract_at__same_handle_as_web3s(name):
    w3 = Web3()
    abi = abis.load(name)
    plain = w3.eth.contract(Web3.to_checksum_address(ADDR), abi=abi)
    kept = contract_at(w3, ADDR, abi)
    assert kept.address == plain.address == Web3.to_checksum_address(ADDR)
    assert kept.abi == plain.abi
    assert kept.w3 is w3
    assert sorted(f.signature for f in kept.all_functions()) == sorted(
        f.signature for f in plain.all_functions()
    )
    events = [item["name"] for item in abi if item.get("type") == "event"]
    if events:  # web3 refuses to iterate the events of an ABI that has none (FundLens)
        assert [e.event_name for e in kept.events] == [e.event_name for e in plain.events]
    for fn in plain.all_functions():
        if not fn.abi.get("inputs"):
            assert (
                kept.get_function_by_signature(fn.signature)()._encode_transaction_data()
                == fn()._encode_transaction_data()
            )


def test_contract_at__class_kept_per_connection_and_abi():
    abi, other_abi = abis.load("TieredVault"), abis.load("FundLens")
    w3a, w3b = Web3(), Web3()
    a1, a2 = contract_at(w3a, ADDR, abi), contract_at(w3a, "0x" + "cd" * 20, abi)
    assert type(a1) is type(a2) and a1.address != a2.address
    b = contract_at(w3b, ADDR, abi)
    assert type(b) is not type(a1) and b.w3 is w3b and a1.w3 is w3a
    assert type(contract_at(w3a, ADDR, other_abi)) is not type(a1)
    # an equal ABI in another list object is not taken for the kept one's
    copy = [dict(item) for item in abi]
    assert type(contract_at(w3a, ADDR, copy)) is not type(a1)
