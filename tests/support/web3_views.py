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


class Views:
    """An ape-like contract instance over a web3 contract: ``.address`` and its views called
    by name (``c.owner()``)."""

    def __init__(self, contract: Any) -> None:
        self.address = contract.address
        self._c = contract

    def __getattr__(self, fn: str) -> Any:
        return lambda *args: self._c.functions[fn](*args).call()


class Web3Project:
    """ape's ``project.<Contract>.at(address).<view>(...)`` over web3 and this build's ABIs: the
    deploy's own hand-over check (ballast_dev.deployment.handover) read with no ape, this
    build's creation code included (``contract_type``: the code checks run through it)."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3

    def contract_type(self, name: str) -> dict[str, Any]:
        return contract_type(name)

    def __getattr__(self, name: str) -> Any:
        w3 = self.w3
        return type(name, (), {"at": staticmethod(lambda a: Views(at(w3, name, a)))})
