"""The canonical Safe 1.4.1 (issue 48): the deploy and the tests' Safes use the official
deployments, at the addresses `@safe-global/safe-deployments` lists, deployed on a fresh local
chain the way Safe deploys them on a new chain (the singleton factory's presigned transaction
from `@safe-global/safe-singleton-factory`, then the npm build of safe-contracts 1.4.1 through
it with salt 0).
"""

from __future__ import annotations

import json

import pytest
from eth_utils import keccak

from ballast_dev.deployment import canonical_safe as cs
from ballast_dev.deployment import npm_artifacts
from ballast_dev.deployment.record import RecordedSteps
from ballast_dev.deployment.txbuilder import MULTISEND_CALL_ONLY

# the proxy's storage: slot 0 holds the singleton (master copy); the fallback handler's slot is
# keccak256("fallback_manager.handler.address") (safe-contracts 1.4.1, FallbackManager.sol)
ANVIL_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
FALLBACK_HANDLER_SLOT = int.from_bytes(keccak(text="fallback_manager.handler.address"), "big")


def _deployments_json(name: str) -> dict:
    path = npm_artifacts.NODE_MODULES / cs.SAFE_DEPLOYMENTS / cs.CONTRACTS[name][0]
    return json.loads(path.read_text())


def _word_address(raw: bytes) -> str:
    from eth_utils import to_checksum_address

    return to_checksum_address(bytes(raw)[-20:])


def test_safe_deployments__canonical_addresses__are_the_npm_build_through_the_factory_salt_0():
    """What the deploy relies on, checked without a chain: CREATE2 from Safe's singleton
    factory with salt 0 over the npm build's init code gives each address the package lists,
    and the build's runtime code hashes to the package's code hash."""
    factory = cs.factory_address()
    assert factory == "0x914d7Fec6aaC8cd542e72Bca78B30650d45643d7"
    for name in cs.CONTRACTS:
        doc = _deployments_json(name)
        assert doc["version"] == "1.4.1" and doc["released"] is True
        listed = doc["deployments"]["canonical"]
        assert cs.create2_address(factory, cs.SALT, cs.init_code(name)) == listed["address"]
        runtime = npm_artifacts.artifact(cs.CONTRACTS[name][1], cs.CanonicalSafeError)
        code = bytes.fromhex(runtime["deployedBytecode"][2:])
        assert "0x" + keccak(code).hex() == listed["codeHash"], name
        # the networks Safe supports have it at that address
        for chain_id in ("1", "11155111", "10", "8453"):
            assert doc["networkAddresses"][chain_id] in ("canonical", ["canonical", "zksync"])
    assert cs.canonical("MultiSendCallOnly").address == MULTISEND_CALL_ONLY


def test_factory_route__by_chain_and_node():
    assert cs.factory_route(11155111, True, "Geth/v1.14") == cs.PRESENT
    # the package ships presigned deployments for sepolia and both local chain ids
    for chain_id in (11155111, 31337, 1337):
        assert chain_id in cs.factory_chain_ids()
        assert cs.factory_route(chain_id, False, "Geth/v1.14") == cs.PRESIGNED
    assert 424242 not in cs.factory_chain_ids()
    assert cs.factory_route(424242, False, "anvil/v1.7.1") == cs.SET_CODE
    with pytest.raises(cs.CanonicalSafeError, match="chain id 424242: no Safe singleton factory"):
        cs.factory_route(424242, False, "Geth/v1.14")


def test_factory_init_code__the_presigned_transactions_data():
    """The code anvil_setCode puts on an unknown chain id is what the presigned transaction
    deploys: its data is the same for every chain id the package ships."""
    code = cs.factory_init_code()
    assert cs.factory_info(1) is not None
    for chain_id in (11155111, 31337):
        info = cs.factory_info(chain_id)
        assert info is not None and info.address == cs.factory_address()
        assert code.hex() in info.transaction.hex()
        assert info.signer == "0xE1CB04A0fA36DdD16a06ea828007E35e1a3cBC37"


def test_ensure_canonical__fresh_local_chain__presigned_factory_then_the_listed_addresses(
    chain, deployer
):
    w3 = chain.provider.web3
    assert chain.chain_id == 31337
    for name in cs.CONTRACTS:  # nothing there yet: this module's chain is fresh
        assert not w3.eth.get_code(cs.canonical(name).address)
    assert not w3.eth.get_code(cs.factory_address())
    steps = RecordedSteps(None, {"steps": []}, log=lambda _m: None)
    result = cs.ensure_canonical(steps, deployer, cs.CONTRACTS, log=lambda _m: None)

    assert result.factory_route == cs.PRESIGNED and set(result.deployed) == set(cs.CONTRACTS)
    for name in cs.CONTRACTS:
        listed = _deployments_json(name)["deployments"]["canonical"]
        assert result.addresses[name] == listed["address"]
        code = bytes(w3.eth.get_code(listed["address"]))
        assert "0x" + keccak(code).hex() == listed["codeHash"]
    by_key = {s["step"]: s for s in steps.data["steps"]}
    info = cs.factory_info(31337)
    assert info is not None
    factory_step = by_key["safe.singleton_factory"]
    assert (factory_step["from"], factory_step["nonce"]) == (info.signer, 0)
    assert factory_step["address"] == cs.factory_address()
    assert by_key["safe.singleton_factory.fund"]["from"] == deployer.address
    for name in cs.CONTRACTS:
        assert by_key[f"safe.canonical:{name}"]["to"] == cs.factory_address()

    # again: everything is there, nothing is sent
    nonce = deployer.nonce
    again = cs.ensure_canonical(steps, deployer, cs.CONTRACTS, log=lambda _m: None)
    assert again.factory_route is None and again.deployed == () and deployer.nonce == nonce


def test_safe_fixture__proxy_of_the_canonical_singleton_and_handler(chain, safe):
    """The tests' Safe (tests/support/fixtures_safe.py) is the one the deploy makes: a proxy of
    the canonical SafeL2 with the canonical fallback handler, which is what safe-eth-py and
    Safe{Wallet} check."""
    get = chain.provider.web3.eth.get_storage_at
    assert _word_address(get(safe.address, 0)) == cs.canonical("SafeL2").address
    handler = _word_address(get(safe.address, FALLBACK_HANDLER_SLOT))
    assert handler == cs.canonical("CompatibilityFallbackHandler").address


def test_ensure_canonical__foreign_code_at_a_canonical_address__refused(chain, deployer):
    w3 = chain.provider.web3
    c = cs.canonical("MultiSendCallOnly")
    before = bytes(w3.eth.get_code(c.address))
    w3.provider.make_request("anvil_setCode", [c.address, "0x6001600055"])
    try:
        with pytest.raises(cs.CanonicalSafeError, match="not the canonical Safe 1.4.1"):
            cs.ensure_canonical(None, deployer, ("MultiSendCallOnly",), log=lambda _m: None)
    finally:
        w3.provider.make_request("anvil_setCode", [c.address, "0x" + before.hex()])


def test_set_factory_code__anvil_of_an_unknown_chain_id__same_factory_same_addresses():
    """An anvil whose chain id the factory package does not know (no presigned transaction can
    be sent there): the factory's code is set at its address with anvil_setCode, and a
    contract deployed through it lands at its canonical address with the canonical code."""
    from eth_account import Account

    from tests.support.anvil_node import start_anvil

    proc, _url, w3 = start_anvil("--chain-id", "424242")
    try:
        factory = cs.factory_address()
        assert cs.factory_route(424242, False, w3.client_version) == cs.SET_CODE
        cs._set_factory_code(w3, factory, 424242, lambda _m: None)
        code = bytes(w3.eth.get_code(factory))
        assert code and cs.factory_init_code().endswith(code)
        # anvil's first dev account (the test mnemonic's account 0)
        sender = Account.from_key(ANVIL_KEY_0)
        c = cs.canonical("MultiSendCallOnly")
        tx = {
            "from": sender.address,
            "to": factory,
            "data": "0x" + (cs.SALT + cs.init_code("MultiSendCallOnly")).hex(),
            "nonce": 0,
            "chainId": 424242,
            "gas": 1_000_000,
            "gasPrice": w3.eth.gas_price * 2,
        }
        h = w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction)
        assert w3.eth.wait_for_transaction_receipt(h, timeout=30)["status"] == 1
        deployed = bytes(w3.eth.get_code(c.address))
        assert "0x" + keccak(deployed).hex() == c.code_hash
    finally:
        proc.terminate()
        proc.wait(timeout=10)
