"""Pure parts of the pipeline: fees, node-error mapping, revert decoding, tx codec, policy."""

from __future__ import annotations

import pytest
from coincurve import PrivateKey
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak

from keepers.core.settings import PolicyConfig
from keepers.tx import errors
from keepers.tx.fees import Fees, bump_fees, suggest_fees
from keepers.tx.policy import AuditRequest, audit
from keepers.tx.revert import RevertDecoder
from keepers.tx.txcodec import decode_1559, sign_1559
from keepers.tx.validate import Expected, check_signed
from tests.support.pipeline_anvil import KEYS


def test_suggest_fees__history__twice_base_plus_tip_capped():
    history = {"baseFeePerGas": ["0x64", "0xc8"], "reward": [["0x5"], ["0x7"], ["0x6"]]}
    assert suggest_fees(history, 1, 10**9) == Fees(2 * 200 + 6, 6)
    assert suggest_fees(history, 1, 300) == Fees(300, 6)


def test_bump_fees__replacement__at_least_12_5_percent_and_never_above_cap():
    old = Fees(1000, 100)
    bumped = bump_fees(old, Fees(0, 0), 1250, 10**6)
    assert bumped == Fees(1125, 113)  # rounded up
    assert bump_fees(old, Fees(5000, 50), 1250, 10**6) == Fees(5000, 113)
    assert bump_fees(old, Fees(0, 0), 1250, 1100) is None  # the cap leaves no valid bump


@pytest.mark.parametrize(
    ("message", "cls"),
    [
        ("nonce too low", errors.NonceTooLow),
        ("Nonce too low. Expected nonce to be 5 but got 3.", errors.NonceTooLow),
        ("replacement transaction underpriced", errors.ReplacementUnderpriced),
        ("Insufficient funds for gas * price + value", errors.InsufficientFunds),
        ("already known", errors.AlreadyKnown),
        ("max fee per gas less than block base fee", errors.FeeTooLow),
        ("execution reverted: custom error 0x1234", errors.ExecutionReverted),
        ("something else", errors.NodeError),
    ],
)
def test_classify__node_error_message__typed_exception(message, cls):
    assert type(errors.classify({"code": -32000, "message": message})) is cls


def test_revert_decoder__exported_project_errors__custom_error_standard_error_and_panic():
    dec = RevertDecoder.default()
    sel = keccak(text="IdRejected(uint256,uint256)")[:4]
    data = "0x" + (sel + encode(["uint256", "uint256"], [7, 9])).hex()
    assert dec.describe(data) == "IdRejected(id=7, limit=9)"
    err = "0x08c379a0" + encode(["string"], ["nope"]).hex()
    assert dec.describe(err) == "Error('nope')"
    assert dec.describe("0x4e487b71" + encode(["uint256"], [0x11]).hex()) == "Panic('0x11')"
    assert dec.describe("0xdeadbeef") == "UnknownError[0xdeadbeef]()"
    assert dec.describe(None) == "revert without data"


TX = {
    "type": 2,
    "chainId": 31337,
    "nonce": 4,
    "to": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    "value": 3,
    "data": "0xebf6e91d" + "00" * 31 + "65",
    "gas": 60000,
    "maxFeePerGas": 3 * 10**9,
    "maxPriorityFeePerGas": 10**9,
}


def test_sign_1559__same_tx__byte_identical_to_eth_account_and_recoverable():
    acct = Account.from_key(KEYS[2])
    raw = sign_1559(TX, PrivateKey(bytes(acct.key)))
    assert raw == bytes(acct.sign_transaction(TX).raw_transaction)
    fields, sender = decode_1559(raw)
    assert sender == acct.address.lower() and fields["nonce"] == 4 and fields["value"] == 3


def test_check_signed__each_field_changed__mismatch_named():
    acct = Account.from_key(KEYS[2])
    exp = Expected(
        31337, acct.address, 4, TX["to"], 3, TX["data"], 60000, 3 * 10**9, 10**9, 5 * 10**9
    )
    assert check_signed(bytes(acct.sign_transaction(TX).raw_transaction), exp) == []
    for field, value in [
        ("nonce", 5),
        ("chainId", 1),
        ("value", 4),
        ("gas", 1),
        ("to", "0x" + "22" * 20),
        ("data", "0x"),
        ("maxFeePerGas", 4 * 10**9),
    ]:
        raw = bytes(acct.sign_transaction({**TX, field: value}).raw_transaction)
        problems = check_signed(raw, exp)
        assert any(p.startswith(field) for p in problems), (field, problems)
    other = Account.from_key(KEYS[3])
    assert any(
        p.startswith("sender")
        for p in check_signed(bytes(other.sign_transaction(TX).raw_transaction), exp)
    )
    good = bytearray(acct.sign_transaction(TX).raw_transaction)
    good[-40] ^= 1  # flip one bit of the signature: another (or no) signer
    assert check_signed(bytes(good), exp) != []


def test_audit__rules__first_failing_rule_named():
    target = "0x" + "ab" * 20
    policy = PolicyConfig.model_validate(
        {
            "roles": {
                "keeper": {
                    "allowed": [{"contract": target, "selector": "0x11223344"}],
                    "max_value_wei": 10,
                    "daily_notional_cap": 100,
                }
            }
        }
    )

    def req(**kw):
        base = dict(
            kind="call",
            role="keeper",
            sender="0x" + "01" * 20,
            target=target,
            calldata="0x11223344",
            value=0,
            notional=0,
            max_fee_per_gas=1,
            fee_cap=2,
        )
        base.update(kw)
        return AuditRequest(**base)

    assert audit(req(), policy, 0).allowed
    assert audit(req(role="other"), policy, 0).rule == "unknown-role"
    assert audit(req(calldata="0x99999999"), policy, 0).rule == "call-not-allowed"
    assert audit(req(target="0x" + "cd" * 20), policy, 0).rule == "call-not-allowed"
    assert audit(req(value=11), policy, 0).rule == "value-cap"
    assert audit(req(notional=30), policy, 80).rule == "daily-notional-cap"
    assert audit(req(max_fee_per_gas=3), policy, 0).rule == "fee-cap"
    filler = req(kind="filler", target="0x" + "01" * 20, calldata="0x")
    assert audit(filler, policy, 10**9).allowed
    assert not audit(req(kind="filler", value=1), policy, 0).allowed


def test_crash_hook__stray_crash_at_without_opt_in__inert(monkeypatch):
    """Issue 12: the fault injector is test-only; a production process ignores a stray
    KEEPER_CRASH_AT unless KEEPER_FAULT_INJECTION=1 arms it (a bad step is still refused)."""
    from keepers.tx.pipeline import CrashHook

    monkeypatch.setenv("KEEPER_CRASH_AT", "sent:1")
    monkeypatch.delenv("KEEPER_FAULT_INJECTION", raising=False)
    assert CrashHook.from_env().step is None
    monkeypatch.setenv("KEEPER_FAULT_INJECTION", "1")
    assert (CrashHook.from_env().step, CrashHook.from_env().nth) == ("sent", 1)
    monkeypatch.setenv("KEEPER_CRASH_AT", "nowhere")
    with pytest.raises(ValueError, match="KEEPER_CRASH_AT='nowhere'"):
        CrashHook.from_env()
