"""Local CCTP V2 stand-in: burn on one domain, attested message minted on the other, at most
once; a replay is reported as NonceAlreadyUsed, distinct from a bad attestation."""

import ape
import pytest
from eth_utils import keccak
from hexbytes import HexBytes

from keepers.crosschain.cctp import (
    FINALITY_FAST,
    LocalCctpAttester,
    address_to_bytes32,
)
from tests.support.rpc_recorder import RpcRecorder

DOMAIN_A, DOMAIN_B = 0, 6
ZERO32 = b"\x00" * 32


@pytest.fixture(scope="module")
def attester(attacker):
    # (takes the session account a later test takes: set up after this module fixture, ape
    # would rebase the module, InvalidIsolationWarning)
    return LocalCctpAttester(keccak(b"ballast local cctp attester"))


@pytest.fixture(scope="module", params=[6, 18], ids=["6dec", "18dec"])
def cctp(request, project, deployer, attester):
    decimals = request.param
    t_a = deployer.deploy(project.TestCctpMessageTransmitter, DOMAIN_A, 1, attester.address)
    t_b = deployer.deploy(project.TestCctpMessageTransmitter, DOMAIN_B, 1, attester.address)
    m_a = deployer.deploy(project.TestCctpTokenMessenger, t_a, 1, deployer)
    m_b = deployer.deploy(project.TestCctpTokenMessenger, t_b, 1, deployer)
    usdc_a = deployer.deploy(project.TestMintBurnStablecoin, "USD Coin A", "USDC", decimals)
    usdc_b = deployer.deploy(project.TestMintBurnStablecoin, "USD Coin B", "USDC", decimals)
    m_a.addRemoteTokenMessenger(DOMAIN_B, address_to_bytes32(m_b.address), sender=deployer)
    m_b.addRemoteTokenMessenger(DOMAIN_A, address_to_bytes32(m_a.address), sender=deployer)
    m_b.linkTokenPair(usdc_b, DOMAIN_A, address_to_bytes32(usdc_a.address), sender=deployer)
    m_a.linkTokenPair(usdc_a, DOMAIN_B, address_to_bytes32(usdc_b.address), sender=deployer)
    return {
        "t_a": t_a,
        "t_b": t_b,
        "m_a": m_a,
        "m_b": m_b,
        "a": usdc_a,
        "b": usdc_b,
        "unit": 10**decimals,
    }


def burn(cctp, alice, bob, amount, max_fee=0, finality=2000, caller=ZERO32):
    cctp["a"].mint(alice, amount, sender=alice)
    cctp["a"].approve(cctp["m_a"], amount, sender=alice)
    tx = cctp["m_a"].depositForBurn(
        amount,
        DOMAIN_B,
        address_to_bytes32(bob.address),
        cctp["a"],
        caller,
        max_fee,
        finality,
        sender=alice,
    )
    (log,) = tx.decode_logs(cctp["t_a"].MessageSent)
    return tx, log


def test_deposit_for_burn__attested_message__minted_once_on_destination(
    cctp, alice, bob, keeper, attester
):
    amount = 250 * cctp["unit"]
    supply_a = cctp["a"].totalSupply()
    tx, log = burn(cctp, alice, bob, amount)
    assert cctp["a"].totalSupply() == supply_a  # minted to alice, then burnt
    assert cctp["a"].balanceOf(alice) == 0
    att = attester.attest(bytes(log.message), HexBytes(tx.txn_hash), log.log_index)
    before = cctp["b"].balanceOf(bob)
    receipt = cctp["t_b"].receiveMessage(att.message, att.attestation, sender=keeper)
    assert cctp["b"].balanceOf(bob) == before + amount
    assert cctp["t_b"].usedNonces(att.nonce) == 1
    (received,) = receipt.decode_logs(cctp["t_b"].MessageReceived)
    assert bytes(received.nonce) == att.nonce
    # Second delivery of the same message: refused, and refused *as a replay*.
    with ape.reverts(cctp["t_b"].NonceAlreadyUsed, nonce=att.nonce):
        cctp["t_b"].receiveMessage(att.message, att.attestation, sender=keeper)
    assert cctp["b"].balanceOf(bob) == before + amount


def test_receive_message__wrong_signer__invalid_attestation_not_nonce_error(
    cctp, alice, bob, keeper, attester
):
    tx, log = burn(cctp, alice, bob, 10 * cctp["unit"])
    att = attester.attest(bytes(log.message), HexBytes(tx.txn_hash), log.log_index)
    forger = LocalCctpAttester(keccak(b"not the attester"))
    with ape.reverts(cctp["t_b"].InvalidAttestation):
        cctp["t_b"].receiveMessage(att.message, forger.sign(att.message), sender=keeper)
    # A tampered message (amount raised) no longer matches the signature.
    tampered = bytearray(att.message)
    tampered[148 + 68 + 31] ^= 1
    with ape.reverts(cctp["t_b"].InvalidAttestation):
        cctp["t_b"].receiveMessage(bytes(tampered), att.attestation, sender=keeper)
    assert cctp["t_b"].usedNonces(att.nonce) == 0


def test_receive_message__wrong_domain__refused(cctp, alice, bob, keeper, attester):
    tx, log = burn(cctp, alice, bob, 10 * cctp["unit"])
    att = attester.attest(bytes(log.message), HexBytes(tx.txn_hash), log.log_index)
    with ape.reverts(cctp["t_a"].InvalidDestinationDomain):
        cctp["t_a"].receiveMessage(att.message, att.attestation, sender=keeper)


def test_receive_message__destination_caller_set__only_that_caller(
    cctp, alice, bob, keeper, attester
):
    tx, log = burn(cctp, alice, bob, 10 * cctp["unit"], caller=address_to_bytes32(keeper.address))
    att = attester.attest(bytes(log.message), HexBytes(tx.txn_hash), log.log_index)
    with ape.reverts(cctp["t_b"].InvalidCaller):
        cctp["t_b"].receiveMessage(att.message, att.attestation, sender=alice)
    cctp["t_b"].receiveMessage(att.message, att.attestation, sender=keeper)


def test_receive_message__fast_finality_with_fee__recipient_gets_amount_less_fee(
    cctp, alice, bob, keeper, attester, deployer
):
    unit = cctp["unit"]
    tx, log = burn(cctp, alice, bob, 100 * unit, max_fee=unit, finality=FINALITY_FAST)
    att = attester.attest(
        bytes(log.message),
        HexBytes(tx.txn_hash),
        log.log_index,
        finality=FINALITY_FAST,
        fee_executed=unit // 2,
    )
    before_bob, before_fee = cctp["b"].balanceOf(bob), cctp["b"].balanceOf(deployer)
    cctp["t_b"].receiveMessage(att.message, att.attestation, sender=keeper)
    assert cctp["b"].balanceOf(bob) - before_bob == 100 * unit - unit // 2
    assert cctp["b"].balanceOf(deployer) - before_fee == unit // 2


def test_deposit_for_burn__max_fee_not_below_amount__refused(cctp, alice, bob):
    cctp["a"].mint(alice, 5, sender=alice)
    cctp["a"].approve(cctp["m_a"], 5, sender=alice)
    with ape.reverts(cctp["m_a"].MaxFeeTooHigh, maxFee=5, amount=5):
        cctp["m_a"].depositForBurn(
            5, DOMAIN_B, address_to_bytes32(bob.address), cctp["a"], ZERO32, 5, 2000, sender=alice
        )


def test_handle_receive__not_from_transmitter__refused(cctp, attacker):
    with ape.reverts(cctp["m_b"].NotLocalMessageTransmitter):
        cctp["m_b"].handleReceiveFinalizedMessage(
            DOMAIN_A, address_to_bytes32(cctp["m_a"].address), 2000, b"", sender=attacker
        )


# --------------------------------------------------------------------------- route adapter


@pytest.mark.parametrize("check", ["eth_call", "simulator"])
def test_cctp_route__initiate_status_finalize__minted_once_and_replay_is_idempotent(
    cctp, chain, keeper, bob, attester, check
):
    from keepers.crosschain.routes import (
        CctpEndpoint,
        CctpRoute,
        LocalAttestations,
        RouteStatus,
        Web3Sender,
    )

    w3 = chain.provider.web3
    src = CctpEndpoint(
        "a", w3, DOMAIN_A, cctp["m_a"].address, cctp["t_a"].address, cctp["a"].address
    )
    dst = CctpEndpoint(
        "b", w3, DOMAIN_B, cctp["m_b"].address, cctp["t_b"].address, cctp["b"].address
    )
    simulator = None
    if check == "simulator":  # what build_crosschain_bot gives each route (KEEPER_SIMULATOR)
        from keepers.tx.revert import RevertDecoder
        from keepers.tx.simulation import NodeSimulator

        simulator = NodeSimulator(w3, RevertDecoder.default())
    route = CctpRoute(
        src,
        dst,
        LocalAttestations(attester),
        Web3Sender(keeper.address),
        keeper.address,
        simulator=simulator,
    )
    amount = 1234 * cctp["unit"] + 5
    cctp["a"].mint(keeper, amount, sender=keeper)
    assert route.quote(amount).min_received == amount

    handle = route.initiate(amount, bob.address)
    assert cctp["a"].balanceOf(keeper) == 0
    assert route.status(handle) is RouteStatus.ATTESTED

    before = cctp["b"].balanceOf(bob)
    first = route.finalize(handle)
    assert first.tx_hash is not None and not first.already_received
    assert route.status(handle) is RouteStatus.COMPLETED
    again = route.finalize(handle)  # a restarted keeper repeating the step
    assert again.already_received and again.tx_hash is None
    assert cctp["b"].balanceOf(bob) == before + amount
    # someone relayed it between the keeper's read and its check: the check tells the replay
    # (NonceAlreadyUsed) apart, through the simulator when the route has one
    route._received = lambda _attested: False  # type: ignore[method-assign]
    recorder = RpcRecorder(w3.provider)
    try:
        raced = route.finalize(handle)
    finally:
        recorder.close()
    assert raced.already_received and raced.tx_hash is None
    assert ("eth_simulateV1" in sum(recorder.sent, [])) == (check == "simulator")
    assert cctp["b"].balanceOf(bob) == before + amount


def test_is_nonce_used__web3_revert_data__replay_told_apart_from_bad_attestation(
    cctp, chain, alice, bob, keeper, attester
):
    from web3.exceptions import ContractCustomError, ContractLogicError

    from keepers import abis
    from keepers.crosschain.routes import _is_nonce_used

    tx, log = burn(cctp, alice, bob, 7 * cctp["unit"])
    att = attester.attest(bytes(log.message), HexBytes(tx.txn_hash), log.log_index)
    cctp["t_b"].receiveMessage(att.message, att.attestation, sender=keeper)
    w3 = chain.provider.web3
    t_b = w3.eth.contract(address=cctp["t_b"].address, abi=abis.load("ICctpMessageTransmitterV2"))
    with pytest.raises((ContractCustomError, ContractLogicError)) as replay:
        t_b.functions.receiveMessage(att.message, att.attestation).call({"from": keeper.address})
    assert _is_nonce_used(replay.value)
    forged = LocalCctpAttester(keccak(b"forger")).sign(att.message)
    with pytest.raises((ContractCustomError, ContractLogicError)) as bad:
        t_b.functions.receiveMessage(att.message, forged).call({"from": keeper.address})
    assert not _is_nonce_used(bad.value)
