"""USDT over USDT0 between two anvil chains (Ethereum 6-dec USDT locked in an OFT adapter,
BSC 18-dec USDT0 minted/burnt), through LayerZero's real EndpointV2 + SimpleMessageLib."""

import pytest

from keepers.crosschain.cctp import address_to_bytes32
from keepers.crosschain.routes import RouteError, RouteStatus, Web3Sender
from keepers.crosschain.usdt0 import LzPacket, oft_message
from tests.support.xchainlib import BSC_EID, ETH_EID, transact
from tests.support.xchainlib import make_usdt0_route as _route

E6, E18 = 10**6, 10**18
THIEF = "0x000000000000000000000000000000000000bad1"


def _sent_to_bsc(lz, keeper: str, amount: int):
    """`amount` of USDT minted to `keeper` on ethereum and sent to itself on bsc over USDT0:
    the route, its relayer and the send's handle."""
    route, relayer = _route(lz, "e", "b", keeper)
    transact(lz["eth"].w3, lz["usdt"].functions.mint(keeper, amount), keeper)
    return route, relayer, route.initiate(amount, keeper)


def test_usdt0_route__eth_to_bsc__locked_equals_minted_plus_in_flight_and_relay_is_idempotent(lz):
    eth = lz["eth"]
    keeper, bob = eth.accounts[2], "0x000000000000000000000000000000000000b0b1"  # fresh
    route, relayer = _route(lz, "e", "b", keeper)
    amount = 1_234_567 * E6 + 89  # 6-dec source: no dust
    transact(eth.w3, lz["usdt"].functions.mint(keeper, amount), keeper)
    keeper0 = lz["usdt"].functions.balanceOf(keeper).call()
    locked0 = lz["usdt"].functions.balanceOf(lz["adapter"].address).call()
    supply0 = lz["usdt0"].functions.totalSupply().call()

    q = route.quote(amount)
    assert (q.amount, q.max_fee, q.min_received) == (amount, 0, amount * 10**12)  # 6 -> 18
    handle = route.initiate(amount, bob)
    assert handle.amount == amount
    packet = LzPacket.decode(handle.message)
    assert "0x" + packet.guid.hex() == handle.ref
    assert packet.guid == packet.computed_guid()
    assert packet.message == oft_message(bob, amount)  # 6 shared decimals == local decimals
    assert keeper0 - lz["usdt"].functions.balanceOf(keeper).call() == amount
    assert route.status(handle) is RouteStatus.PENDING_ATTESTATION

    locked = lz["usdt"].functions.balanceOf(lz["adapter"].address).call() - locked0
    minted = (lz["usdt0"].functions.totalSupply().call() - supply0) // 10**12
    in_flight = amount
    assert locked == minted + in_flight == amount

    delivered = relayer.relay()
    assert not delivered[packet.guid].already_received
    assert route.status(handle) is RouteStatus.COMPLETED
    assert lz["usdt0"].functions.balanceOf(bob).call() == amount * 10**12  # 6 -> 18 decimals
    minted = (lz["usdt0"].functions.totalSupply().call() - supply0) // 10**12
    assert locked == minted + 0

    again = relayer.relay()  # duplicate relay of everything sent so far
    assert all(r.already_received for r in again.values()) and packet.guid in again
    assert route.finalize(handle).already_received
    assert lz["usdt0"].functions.balanceOf(bob).call() == amount * 10**12


def test_usdt0_route__bsc_to_eth_with_dust__finalize_verifies_and_executes_once(lz):
    eth, bsc = lz["eth"], lz["bsc"]
    keeper, carol = bsc.accounts[2], "0x000000000000000000000000000000000000ca01"  # fresh
    # Put USDT on the Ethereum adapter first (a prior eth->bsc leg) so the unlock has funds.
    feed_route, feed_relayer = _route(lz, "e", "b", eth.accounts[3])
    transact(eth.w3, lz["usdt"].functions.mint(eth.accounts[3], 500 * E6), eth.accounts[3])
    feed_route.initiate(500 * E6, keeper)
    feed_relayer.relay()
    assert lz["usdt0"].functions.balanceOf(keeper).call() >= 500 * E18

    route, _relayer = _route(lz, "b", "e", keeper)
    amount = 321 * E18 + 5 * 10**17 + 777  # 321.5 USDT plus dust below 1e-6
    before = lz["usdt0"].functions.balanceOf(keeper).call()
    supply0 = lz["usdt0"].functions.totalSupply().call()
    q = route.quote(amount)
    assert q.min_received == 321_500_000 and q.max_fee == 0  # Ethereum units; dust not sent
    handle = route.initiate(amount, carol)
    assert handle.amount == 321 * E18 + 5 * 10**17
    assert before - lz["usdt0"].functions.balanceOf(keeper).call() == handle.amount  # dust kept
    assert supply0 - lz["usdt0"].functions.totalSupply().call() == handle.amount  # burnt

    assert route.status(handle) is RouteStatus.PENDING_ATTESTATION
    first = route.finalize(handle)  # local verifier (DVN stand-in) + lzReceive
    assert first.tx_hash is not None and not first.already_received
    assert route.status(handle) is RouteStatus.COMPLETED
    assert lz["usdt"].functions.balanceOf(carol).call() == 321_500_000
    second = route.finalize(handle)
    assert second.already_received and second.tx_hash is None
    assert lz["usdt"].functions.balanceOf(carol).call() == 321_500_000


def test_usdt0_route__verified_not_executed__attested_then_completed(lz):
    eth = lz["eth"]
    keeper = eth.accounts[4]
    route, relayer, handle = _sent_to_bsc(lz, keeper, 7 * E6)
    assert relayer.verifier.verify(LzPacket.decode(handle.message))
    assert route.status(handle) is RouteStatus.ATTESTED
    assert not route.finalize(handle).already_received
    assert route.status(handle) is RouteStatus.COMPLETED


def test_lz_endpoint__forged_packet__not_delivered(lz):
    """A packet whose payload does not match what the source sent is refused by the endpoint
    (the relayer cannot mint: the payload hash is what the DVN verified)."""
    eth = lz["eth"]
    keeper = eth.accounts[2]
    route, relayer, handle = _sent_to_bsc(lz, keeper, 3 * E6)
    packet = LzPacket.decode(handle.message)
    relayer.verifier.verify(packet)
    forged = LzPacket(
        packet.nonce,
        packet.src_eid,
        packet.sender,
        packet.dst_eid,
        packet.receiver,
        packet.guid,
        oft_message(THIEF, 3_000 * E6),
    )
    from keepers.crosschain.usdt0 import execute_packet

    with pytest.raises(RouteError, match="lzReceive would revert"):
        execute_packet(lz["side_b"], forged, Web3Sender(keeper), keeper)
    # the same check through the simulator (what build_crosschain_bot gives each route)
    from keepers.tx.revert import RevertDecoder
    from keepers.tx.simulation import NodeSimulator

    simulator = NodeSimulator(lz["side_b"].w3, RevertDecoder.default())
    # LayerZero's errors are not the project's: the revert is named by its selector
    # (LZ_PayloadHashNotFound), told apart from a replay by the endpoint's state
    with pytest.raises(RouteError, match="lzReceive would revert: .*7182306f"):
        execute_packet(lz["side_b"], forged, Web3Sender(keeper), keeper, simulator)
    assert lz["usdt0"].functions.balanceOf(THIEF).call() == 0
    assert not route.finalize(handle).already_received


def test_usdt0_route__blocked_send_library__quote_raises_route_down(lz):
    eth = lz["eth"]
    owner = eth.accounts[0]
    ep = lz["lz_e"].endpoint_contract()
    blocked = ep.functions.blockedLibrary().call()
    transact(eth.w3, ep.functions.setSendLibrary(lz["adapter"].address, BSC_EID, blocked), owner)
    try:
        route, _ = _route(lz, "e", "b", eth.accounts[2])
        with pytest.raises(RouteError, match="down"):
            route.quote(10 * E6)
    finally:
        transact(
            eth.w3,
            ep.functions.setSendLibrary(lz["adapter"].address, BSC_EID, lz["lz_e"].lib),
            owner,
        )
    assert route.quote(10 * E6).min_received == 10 * E18


def test_lz_packet__guid__matches_endpoint_next_guid(lz):
    ep = lz["lz_e"].endpoint_contract()
    adapter = lz["adapter"].address
    peer = address_to_bytes32(lz["usdt0"].address)
    nonce = ep.functions.outboundNonce(adapter, BSC_EID, peer).call() + 1
    packet = LzPacket(nonce, ETH_EID, address_to_bytes32(adapter), BSC_EID, peer, b"\0" * 32, b"")
    assert ep.functions.nextGuid(adapter, BSC_EID, peer).call() == packet.computed_guid()


@pytest.mark.parametrize("direction", ["e->b", "b->e"])
def test_usdt0_route__several_legs_partly_delivered__debited_equals_credited_plus_in_flight(
    lz, direction
):
    """Conservation with legs in flight: what left the source (locked on Ethereum, burnt on
    BSC) equals what arrived (minted on BSC, unlocked on Ethereum) plus the undelivered legs,
    in source units; after the relay nothing is in flight."""
    src, dst = direction.split("->")
    chain = lz["eth"] if src == "e" else lz["bsc"]
    keeper = chain.accounts[1]
    route, relayer = _route(lz, src, dst, keeper)
    scale = 10**12  # BSC units per Ethereum unit
    usdt, usdt0, adapter = lz["usdt"], lz["usdt0"], lz["adapter"].address
    if src == "e":
        transact(chain.w3, usdt.functions.mint(keeper, 30 * E6), keeper)
        amounts = [10 * E6, 7 * E6 + 1, 3 * E6 + 999_999]
    else:
        transact(chain.w3, usdt0.functions.mint(keeper, 30 * E18), chain.accounts[0])
        transact(lz["eth"].w3, usdt.functions.mint(adapter, 30 * E6), lz["eth"].accounts[0])
        amounts = [10 * E18, 7 * E18 + 10**12, 3 * E18 + 5]  # last leg leaves 5 wei of dust

    def debited_credited():
        locked = usdt.functions.balanceOf(adapter).call()
        supply = usdt0.functions.totalSupply().call()
        return locked, supply

    locked0, supply0 = debited_credited()
    handles = [route.initiate(a, keeper) for a in amounts]
    route.finalize(handles[0])  # one leg delivered, two in flight
    locked, supply = debited_credited()
    in_flight = sum(h.amount for h in handles[1:])
    if src == "e":  # locked on Ethereum = minted on BSC + in flight (Ethereum units)
        assert locked - locked0 == (supply - supply0) // scale + in_flight
    else:  # burnt on BSC = unlocked on Ethereum + in flight (BSC units)
        assert supply0 - supply == (locked0 - locked) * scale + in_flight
        assert handles[2].amount == 3 * E18  # the 5 wei of dust never left
    assert [route.status(h) for h in handles] == [
        RouteStatus.COMPLETED,
        RouteStatus.PENDING_ATTESTATION,
        RouteStatus.PENDING_ATTESTATION,
    ]
    relayer.relay()
    locked, supply = debited_credited()
    if src == "e":
        assert locked - locked0 == (supply - supply0) // scale == sum(h.amount for h in handles)
    else:
        assert supply0 - supply == (locked0 - locked) * scale == sum(h.amount for h in handles)
    assert all(route.status(h) is RouteStatus.COMPLETED for h in handles)


def test_usdt0_oft__amount_beyond_uint64_shared_units__refused(lz):
    """The wire carries uint64 shared-decimal units: a larger amount is refused, never
    truncated (a truncated amount would burn more than it mints)."""
    from web3.exceptions import ContractCustomError

    from keepers import abis

    bsc = lz["bsc"]
    oft = bsc.w3.eth.contract(address=lz["usdt0"].address, abi=abis.load("ILzOFT"))
    too_big = (2**64) * 10**12
    param = (ETH_EID, address_to_bytes32(bsc.accounts[0]), too_big, 0, b"", b"", b"")
    with pytest.raises(ContractCustomError):
        oft.functions.quoteSend(param, False).call()
    route, _ = _route(lz, "b", "e", bsc.accounts[0])
    with pytest.raises(RouteError, match="down"):
        route.quote(too_big)


def test_lz_receive_options__200k_gas__matches_layerzero_options_builder():
    from keepers.crosschain.usdt0 import lz_receive_options

    # OptionsBuilder.newOptions().addExecutorLzReceiveOption(200000, 0), as in LayerZero's docs
    assert lz_receive_options(200_000).hex() == "00030100110100000000000000000000000000030d40"
    with_value = lz_receive_options(65_000, 7)
    assert with_value[:6].hex() == "000301002101" and len(with_value) == 6 + 32
    with pytest.raises(ValueError, match="uint128"):
        lz_receive_options(0)


def test_usdt0_route__send__real_oft_passes_extra_options_to_endpoint(lz):
    from eth_abi import decode

    from keepers.crosschain.usdt0 import PACKET_SENT_TOPIC

    eth = lz["eth"]
    keeper = eth.accounts[4]
    route, relayer, handle = _sent_to_bsc(lz, keeper, 10 * E6)
    receipt = eth.w3.eth.get_transaction_receipt(handle.tx_hash)
    sent = [lg for lg in receipt["logs"] if bytes(lg["topics"][0]) == PACKET_SENT_TOPIC]
    assert len(sent) == 1
    _payload, options, _lib = decode(["bytes", "bytes", "address"], bytes(sent[0]["data"]))
    assert options == route.extra_options and len(options) == 22
    assert not relayer.relay()[LzPacket.decode(handle.message).guid].already_received
