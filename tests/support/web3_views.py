"""This build's contracts over plain web3, for tests that read a chain from outside ape: a
contract bound by name and address."""

from __future__ import annotations

from typing import Any

from web3 import Web3

from tests.support.pipeline_anvil import contract_type


def at(w3: Web3, name: str, address: str) -> Any:
    """The compiled contract ``name`` at ``address``, as a web3 contract."""
    return w3.eth.contract(
        address=Web3.to_checksum_address(address), abi=contract_type(name)["abi"]
    )
