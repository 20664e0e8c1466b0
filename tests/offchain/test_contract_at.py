"""`keepers.tx.contracts.contract_at`: web3's contract handle built once per connection, ABI
and address.

The handle it gives is the one `w3.eth.contract(address, abi=...)` gives: the same address,
functions, events and calldata; the class is shared only on one connection (another `Web3`
gets its own class, bound to it), and only for the same ABI object; the handle at an address
is shared (a call's arguments are not kept in it); and nothing is kept past the connection's
own life (the first cache, keyed by the connection in a module-level WeakKeyDictionary, held
every connection for the process's life through its values)."""

from __future__ import annotations

import gc
import weakref

import pytest
from eth_abi import encode
from eth_utils import event_abi_to_log_topic
from web3 import Web3

from keepers import abis
from keepers.tx.contracts import FundAddresses, FundContracts, contract_at

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


def test_contract_at__handle_kept_per_connection_abi_and_address():
    abi = abis.load("TieredVault")
    w3a, w3b = Web3(), Web3()
    a = contract_at(w3a, ADDR, abi)
    assert contract_at(w3a, ADDR.upper().replace("0X", "0x"), abi) is a  # any case: one address
    assert contract_at(w3a, "0x" + "cd" * 20, abi) is not a
    assert contract_at(w3b, ADDR, abi) is not a
    assert contract_at(w3a, ADDR, abis.load("FundLens")) is not a
    assert contract_at(w3a, ADDR, [dict(item) for item in abi]) is not a


def test_contract_at__shared_handle__each_call_its_own_arguments():
    w3 = Web3()
    h = contract_at(w3, ADDR, abis.load("TieredVault"))
    holder, other = "0x" + "11" * 20, "0x" + "22" * 20
    first = h.functions.balanceOf(Web3.to_checksum_address(holder))
    second = contract_at(w3, ADDR, abis.load("TieredVault")).functions.balanceOf(
        Web3.to_checksum_address(other)
    )
    plain = w3.eth.contract(Web3.to_checksum_address(ADDR), abi=abis.load("TieredVault"))
    assert (
        first._encode_transaction_data()
        == plain.functions.balanceOf(Web3.to_checksum_address(holder))._encode_transaction_data()
    )
    assert (
        second._encode_transaction_data()
        == plain.functions.balanceOf(Web3.to_checksum_address(other))._encode_transaction_data()
    )


def test_contract_at__nothing_kept_past_the_connection():
    w3 = Web3()
    gone = weakref.ref(w3)
    for name in ("TieredVault", "FundLens"):
        contract_at(w3, ADDR, abis.load(name))
    del w3
    gc.collect()
    assert gone() is None


def _record(**extra: object) -> FundAddresses:
    base = {k: "0x" + c * 40 for k, c in (("controller", "1"), ("lens", "2"), ("vault", "3"))}
    return FundAddresses.from_dict({**base, "cash": "0x" + "4" * 40, **extra})


# the fund's handles: the attribute, its record address and its ABI
HANDLES = {
    "controller": ("controller", "AssetController"),
    "lens": ("lens", "FundLens"),
    "vault": ("vault", "TieredVault"),
    "quoter": ("quoter", "IQuoterV2"),
    "uniswap_adapter": ("uniswap", "UniswapV3Adapter"),
    "executor": ("plan_executor", "PlanExecutor"),
    "timelock": ("timelock", "FundTimelock"),
}


def test_fund_contracts__each_bound_on_first_use__the_handle_contract_at_gives():
    """No handle is built with the object; each is built on its first use, once, and is the
    handle ``contract_at`` gives for the record's address and the contract's ABI."""
    addresses = _record(
        adapters={"uniswap": "0x" + "5" * 40, "uniswap_quoter": "0x" + "6" * 40},
        plan_executor="0x" + "7" * 40,
        timelock="0x" + "8" * 40,
    )
    w3 = Web3()
    fc = FundContracts(w3, addresses)
    assert not set(HANDLES) & set(vars(fc))  # nothing bound yet
    for attr, (key, name) in HANDLES.items():
        address = getattr(addresses, key, None) or addresses.adapters[key]
        handle = getattr(fc, attr)
        assert handle is contract_at(w3, address, abis.load(name)) is getattr(fc, attr)
        assert handle.address == Web3.to_checksum_address(address)


def test_fund_contracts__optional_ones_absent_from_the_record__none():
    fc = FundContracts(Web3(), _record())
    assert (fc.quoter, fc.uniswap_adapter, fc.executor, fc.timelock) == (None,) * 4
    assert fc.controller.address == Web3.to_checksum_address("0x" + "1" * 40)


# the entries the keeper calls through FundContracts.only: check_bands, the feeds' check
# (keepers.core.feeds), the holders' view; the fees' watch, the deposit trigger, what an
# executed action received and its fills' cost (keepers.fund.execution, keepers.fund.costs)
ONLY = [
    ("controller", "AssetController", "tier", (2,)),
    ("controller", "AssetController", "assetParams", (Web3.to_checksum_address(ADDR),)),
    ("controller", "AssetController", "valueOf", (Web3.to_checksum_address(ADDR), 10**18)),
    ("vault", "TieredVault", "previewRedeemInKind", (10**18,)),
    ("timelock", "FundTimelock", "EXECUTION_WINDOW", ()),
    ("timelock", "FundTimelock", "RELEASE", ()),
]
ONLY_EVENTS = [
    ("vault", "TieredVault", "FeesAccrued"),
    ("vault", "TieredVault", "Deposit"),
    *(
        ("controller", "AssetController", e)
        for e in ("Purchased", "Redeemed", "WaterfallLiquidated", "Allocated")
    ),
    ("timelock", "FundTimelock", "CallScheduled"),
]
TIMELOCK = "0x" + "8" * 40


def test_fund_contracts_only__the_abis_own_entries__kept_and_unknown_ones_refused():
    """A handle over named entries of the vault's or the controller's ABI: the ABI's own entry
    dicts in its order, one list per request (so one handle per connection and address), the
    fund's address; a name the ABI lacks is refused naming it; nothing of the whole ABI is
    bound."""
    from keepers.tx.contracts import abi_entries

    fc = FundContracts(Web3(), _record(timelock=TIMELOCK))
    for which, name, entry, _ in ONLY:
        handle = fc.only(which, entry)
        assert handle.abi == [e for e in abis.load(name) if e.get("name") == entry]
        assert all(any(e is a for a in abis.load(name)) for e in handle.abi)
        assert handle is fc.only(which, entry)
        assert abi_entries(name, entry) is abi_entries(name, entry)
        assert handle.address == Web3.to_checksum_address(getattr(fc.addresses, which))
    with pytest.raises(ValueError, match="TieredVault's ABI has no noSuchView"):
        fc.only("vault", "previewRedeemInKind", "noSuchView")
    with pytest.raises(ValueError, match="names no timelock"):
        FundContracts(Web3(), _record()).only("timelock", "RELEASE")
    assert not {"vault", "controller", "timelock"} & set(vars(fc))


@pytest.mark.parametrize(("which", "name", "entry", "args"), ONLY)
def test_fund_contracts_only__calldata_as_the_whole_abis_handle(which, name, entry, args):
    """The same calldata as the whole ABI's handle (the answer is decoded by the same entry
    dict: the test above)."""
    fc = FundContracts(Web3(), _record(timelock=TIMELOCK))
    whole = contract_at(fc.w3, getattr(fc.addresses, which), abis.load(name))
    assert fc.only(which, entry).encode_abi(entry, args) == whole.encode_abi(entry, args)


def _sample(abi_type: str, i: int) -> object:
    """A value of ``abi_type`` for an event's ``i``-th input (each input its own)."""
    if abi_type == "address":
        return Web3.to_checksum_address("0x" + f"{i + 1:x}" * 40)
    if abi_type == "bool":
        return i % 2 == 0
    if abi_type.startswith("bytes"):
        return bytes([i + 1]) * int(abi_type[5:] or 32)
    if abi_type.startswith(("uint", "int")):
        return i + 1 if abi_type.endswith("8") else 10**6 + i
    raise AssertionError(f"no sample for {abi_type}")


@pytest.mark.parametrize(("which", "name", "event"), ONLY_EVENTS)
def test_fund_contracts_only__events_decode_as_the_whole_abis_handle(which, name, event):
    """A log decodes to the same event through the one-event handle as through the whole ABI's
    (``process_log``: what ``get_logs`` does to each log)."""
    fc = FundContracts(Web3(), _record(timelock=TIMELOCK))
    whole = getattr(contract_at(fc.w3, getattr(fc.addresses, which), abis.load(name)).events, event)
    part = getattr(fc.only(which, event).events, event)
    log = _log(name, event, getattr(fc.addresses, which))
    assert part.process_log(log) == whole.process_log(log)


def _log(name: str, event: str, address: str, index: int = 3) -> dict[str, object]:
    """A log of ``event`` (of exported ABI ``name``) emitted by ``address``, each input its own
    sample value."""
    ev_abi = next(e for e in abis.load(name) if e.get("name") == event and e["type"] == "event")
    topics = [event_abi_to_log_topic(ev_abi)]
    data_types, data_values = [], []
    for i, inp in enumerate(ev_abi["inputs"]):
        value = _sample(inp["type"], i)
        if inp["indexed"]:
            topics.append(encode([inp["type"]], [value]))
        else:
            data_types.append(inp["type"])
            data_values.append(value)
    return {
        "address": Web3.to_checksum_address(address),
        "topics": topics,
        "data": encode(data_types, data_values),
        "blockNumber": 7,
        "blockHash": b"\x01" * 32,
        "transactionHash": b"\x02" * 32,
        "transactionIndex": 0,
        "logIndex": index,
    }


def test_fund_contracts_only__which_not_a_fund_contract__refused_naming_it():
    with pytest.raises(ValueError, match="which='lens': one of vault, controller, timelock"):
        FundContracts(Web3(), _record()).only("lens", "fundState")


def test_own_events__the_same_event_from_another_address__not_the_funds():
    """A token or venue the keeper's transaction calls can emit a ``Purchased`` with the
    controller's topic; web3's ``process_receipt`` decodes it whoever emitted it. The fill's
    received amount and its cost count the controller's own logs only: a receipt whose only
    ``Purchased`` is another contract's has no fill (and asks the node nothing)."""
    from keepers.fund.costs import own_events, receipt_cost

    fc = FundContracts(Web3(), _record())
    ctl = fc.only("controller", "Purchased", "Redeemed", "valueOf")
    forged = _log("AssetController", "Purchased", "0x" + "9" * 40, index=0)
    own = _log("AssetController", "Purchased", fc.addresses.controller, index=1)
    receipt = {"blockNumber": 7, "logs": [forged, own]}
    got = own_events(ctl, "Purchased", receipt)
    assert [lg["logIndex"] for lg in got] == [1]
    assert list(ctl.events.Purchased().process_receipt(receipt)) != got  # what web3 alone gives
    assert receipt_cost(ctl, {"blockNumber": 7, "logs": [forged]}) is None


def test_timelock_watch__record_without_a_timelock__nothing_bound_nothing_asked():
    """A record that names no timelock (a fund deployed before it): the read's timelock metrics
    and the status's queue are skipped (None: "not in the deployment record"), no handle is
    made and the node is asked nothing (this Web3 has no node)."""
    from types import SimpleNamespace

    from keepers.fund.read_watch import ReadWatch
    from keepers.fund.timelock import queued, watched

    fc = FundContracts(Web3(), _record())
    bot = SimpleNamespace(contracts=fc, addresses=fc.addresses, k=SimpleNamespace())
    assert watched(fc) is None and queued(bot, 7, 1_000) is None
    ReadWatch(bot).observe_timelock(SimpleNamespace(block=7, state=None))
    assert "timelock" not in vars(fc)
    with_timelock = FundContracts(Web3(), _record(timelock=TIMELOCK))
    handle = watched(with_timelock)
    assert handle is with_timelock.only("timelock", "CallScheduled", "EXECUTION_WINDOW", "RELEASE")
