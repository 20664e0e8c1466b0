"""Approvals bound to the exact plan (issue 15), without a chain: EIP-712 typed data of a plan,
signatures, recovery and the count of approvals that hold. The hash is checked against the
contract's own `hashPlan` in tests/contracts/fund/test_plan_executor.py."""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth_account import Account
from eth_utils import keccak, to_bytes

from keepers.fund.planning.plan_approval import (
    PURCHASE_SELECTOR,
    REDEEM_SELECTOR,
    SignedPlan,
    aim,
    count_approvals,
    encode_execute_action,
    leg_min_out,
    pack_signature,
    plan_hash,
    recover_signer,
    sign_plan,
    signable,
    typed_data,
    with_min_out,
)

KEYS = {name: "0x" + keccak(text=name).hex() for name in ("alice", "bob", "carol", "mallory")}
ADDR = {name: Account.from_key(k).address for name, k in KEYS.items()}
OWNERS = [ADDR["alice"], ADDR["bob"], ADDR["carol"]]
NOW = 1_800_000_000


def make(**kw) -> SignedPlan:
    base = dict(
        plan_id=SignedPlan.plan_id_for("plan-3e0efd41"),
        chain_id=31337,
        executor="0x" + "11" * 20,
        controller="0x" + "22" * 20,
        deadline=NOW + 3600,
        actions=(bytes.fromhex("aabbccdd" + "00" * 31 + "01"), bytes.fromhex("eeff0011")),
    )
    base.update(kw)
    return SignedPlan(**base)


def sign(plan: SignedPlan, *names: str) -> list[bytes]:
    return [sign_plan(plan, KEYS[n]) for n in names]


def test_count_approvals__two_distinct_owners__both_count():
    p = make()
    got = count_approvals(p, sign(p, "bob", "alice"), OWNERS, NOW)
    assert set(got.approvers) == {ADDR["alice"], ADDR["bob"]} and got.enough(2)
    assert got.rejected == ()


def test_count_approvals__non_owner_and_duplicate__not_counted():
    p = make()
    got = count_approvals(p, sign(p, "alice", "mallory", "alice"), OWNERS, NOW)
    assert got.approvers == (ADDR["alice"],) and not got.enough(2)
    assert [i for i, _ in got.rejected] == [1, 2]
    assert "not a current owner" in got.rejected[0][1] and "already counted" in got.rejected[1][1]


def test_count_approvals__owner_removed__signature_no_longer_counts():
    p = make()
    s = sign(p, "alice", "bob")
    assert count_approvals(p, s, [ADDR["alice"], ADDR["carol"]], NOW).count == 1


@pytest.mark.parametrize(
    "edit",
    [
        {"chain_id": 56},
        {"executor": "0x" + "33" * 20},
        {"controller": "0x" + "33" * 20},
        {"deadline": NOW + 3601},
        {"plan_id": SignedPlan.plan_id_for("plan-other")},
        {"actions": (bytes.fromhex("eeff0011"), bytes.fromhex("aabbccdd" + "00" * 31 + "01"))},
        {"actions": (bytes.fromhex("aabbccdd" + "00" * 31 + "02"), bytes.fromhex("eeff0011"))},
        {"actions": (bytes.fromhex("aabbccdd" + "00" * 31 + "01"),), "max_slippage_bps": (0,)},
        {"max_slippage_bps": (0, 1)},
    ],
    ids=[
        "chain",
        "executor",
        "controller",
        "deadline",
        "plan_id",
        "order",
        "one_byte",
        "dropped",
        "band",
    ],
)
def test_count_approvals__plan_changed_after_signing__approvals_lost(edit):
    signed = make()
    s = sign(signed, "alice", "bob")
    changed = replace(signed, **edit)
    assert plan_hash(changed) != plan_hash(signed)
    got = count_approvals(changed, s, OWNERS, NOW)
    assert got.count == 0 and len(got.rejected) == 2


def test_count_approvals__after_the_deadline__nothing_counts():
    p = make()
    s = sign(p, "alice", "bob")
    assert count_approvals(p, s, OWNERS, p.deadline).count == 2
    assert count_approvals(p, s, OWNERS, p.deadline + 1).count == 0
    # the approval SLA's deadline applies when it is earlier than the plan's own
    got = count_approvals(p, s, OWNERS, NOW + 10, deadline=NOW + 5)
    assert got.count == 0 and "expired" in got.rejected[0][1]


def test_recover_signer__malformed__none():
    p = make()
    good = sign(p, "alice")[0]
    assert recover_signer(p, good) == ADDR["alice"]
    assert recover_signer(p, good[:64]) is None
    assert recover_signer(p, b"\x00" * 65) is None
    assert count_approvals(p, [good[:64], b""], OWNERS, NOW).count == 0


def test_pack_signature__short_r_as_ape_holds_it__padded_and_recovers():
    # ape's MessageSignature holds r and s as minimal bytes (eth_utils.to_bytes(int)): about one
    # signature in 128 has a leading zero byte dropped, and a 64-byte signature never counts
    for i in range(4000):
        p = make(plan_id=SignedPlan.plan_id_for(f"plan-{i}"))
        signed = Account.sign_message(signable(p), KEYS["alice"])
        if signed.r < 1 << 248:
            break
    else:
        pytest.fail("no signature with a short r in 4,000 plans")
    r, s = to_bytes(signed.r), to_bytes(signed.s)
    assert len(r) < 32  # what ape hands over
    assert len(r + s + bytes([signed.v])) < 65
    sig = pack_signature(signed.v, r, s)
    assert sig == bytes(signed.signature)
    assert recover_signer(p, sig) == ADDR["alice"]
    assert count_approvals(p, [sig], OWNERS, NOW).count == 1


def test_typed_data__domain_and_types_are_what_the_contract_hashes():
    td = typed_data(make())
    assert td["domain"]["name"] == "Ballast PlanExecutor" and td["domain"]["version"] == "1"
    assert [f["name"] + ":" + f["type"] for f in td["types"]["Plan"]] == [
        "planId:bytes32",
        "controller:address",
        "deadline:uint64",
        "actions:bytes[]",
        "maxSlippageBps:uint16[]",
    ]


def test_signed_plan__bad_fields__named_in_the_error():
    with pytest.raises(ValueError, match="plan_id must be 32 bytes"):
        make(plan_id=b"\x01" * 31)
    with pytest.raises(ValueError, match="deadline must fit uint64"):
        make(deadline=2**64)
    with pytest.raises(ValueError, match="at least one action"):
        make(actions=())
    with pytest.raises(ValueError, match="chain_id"):
        make(chain_id=0)


def test_frozen_document_round_trips_and_an_edit_changes_the_hash():
    """What the keeper stores when it freezes a plan gives back the same plan and hash; an
    edited action in the stored document gives another hash (the old signatures stop counting)."""
    plan = SignedPlan(
        plan_id=SignedPlan.plan_id_for("plan-frozen"),
        chain_id=31337,
        executor="0x" + "11" * 20,
        controller="0x" + "22" * 20,
        deadline=1_800_000_000,
        actions=(b"\x01\x02", b"\x03"),
    )
    doc = plan.to_frozen([1, 0], ["invest", "divest"])
    again = SignedPlan.from_frozen(doc)
    assert again == plan and doc["plan_hash"] == "0x" + plan_hash(plan).hex()
    edited = dict(doc, actions=[doc["actions"][0], "0x04"])
    assert plan_hash(SignedPlan.from_frozen(edited)) != plan_hash(plan)
    with pytest.raises(ValueError, match="lacks deadline"):
        SignedPlan.from_frozen({k: v for k, v in doc.items() if k != "deadline"})
    with pytest.raises(ValueError, match="must match"):
        plan.to_frozen([0], ["invest"])


# ---- contract signers (ERC-1271): the keeper's rule is the executor's (PlanExecutor tests
# ---- check the same cases on chain with real Safes)

SAFE = "0x" + "5a" * 20
TEAM = "0x" + "7e" * 20  # a Safe that is an owner


def _checker(valid: set[tuple[str, bytes]]):
    """A stand-in for ERC-1271 on chain: (signer, inner bytes) pairs that are valid."""

    def check(signer: str, digest: bytes, inner: bytes) -> bool:
        assert len(digest) == 32
        return (signer.lower(), inner) in {(a.lower(), b) for a, b in valid}

    return check


def _by(contract: str, inner: bytes) -> bytes:
    return bytes.fromhex(contract[2:]) + inner


def test_count_approvals__the_safes_own_approval__worth_its_threshold_never_added():
    p = make()
    ok = _checker({(SAFE, b"safe-sig")})
    by_safe = _by(SAFE, b"safe-sig")
    got = count_approvals(p, [by_safe], OWNERS, NOW, safe=SAFE, safe_threshold=2, erc1271=ok)
    assert got.count == 2 and got.enough(2) and got.safe is not None and got.approvers == ()
    both = count_approvals(
        p, [by_safe, *sign(p, "alice", "bob")], OWNERS, NOW, safe=SAFE, safe_threshold=2,
        erc1271=ok,
    )  # fmt: skip
    assert both.count == 2  # max(2, 2), not 4
    three = count_approvals(
        p, [by_safe, *sign(p, "alice", "bob", "carol")], OWNERS, NOW, safe=SAFE,
        safe_threshold=2, erc1271=ok,
    )  # fmt: skip
    assert three.count == 3


def test_count_approvals__contract_owner_counts_once__others_refused_with_reasons():
    p = make()
    owners = [*OWNERS, TEAM]
    ok = _checker({(TEAM, b"team-sig"), (SAFE, b"safe-sig")})
    sigs = [
        _by(TEAM, b"team-sig"),
        _by(TEAM, b"team-sig"),  # repeat
        _by(TEAM, b"forged"),  # the Safe does not sign this
        _by("0x" + "99" * 20, b"x"),  # a contract that is no owner (valid for nobody)
        *sign(p, "alice"),
    ]
    got = count_approvals(p, sigs, owners, NOW, safe=SAFE, safe_threshold=2, erc1271=ok)
    assert {a.lower() for a in got.approvers} == {TEAM, ADDR["alice"].lower()}
    assert got.count == 2
    reasons = dict(got.rejected)
    assert "already counted" in reasons[1]
    assert "does not sign this plan hash (ERC-1271" in reasons[2]
    assert "does not sign this plan hash" in reasons[3]
    # without a node, a contract signature is not counted, and says why
    offline = count_approvals(p, [_by(SAFE, b"safe-sig")], OWNERS, NOW, safe=SAFE, safe_threshold=2)
    assert offline.count == 0 and "no node to check it" in offline.rejected[0][1]


def test_count_approvals__key_signatures_keep_the_65_byte_rule():
    p = make()
    (alice,) = sign(p, "alice")
    ok = _checker(set())
    # any length but 65 is read as a contract's (the executor's rule): 64 bytes (EIP-2098)
    # and 66 are refused, the short form with its own reason
    got = count_approvals(p, [alice[:64], alice + b"\x00"], OWNERS, NOW, erc1271=ok)
    assert got.count == 0
    assert "EIP-2098 short signature" in got.rejected[0][1]
    assert "does not sign this plan hash" in got.rejected[1][1]
    assert count_approvals(p, [alice], OWNERS, NOW, erc1271=ok).count == 1


def _leg(selector: bytes, amount: int, min_out: int) -> bytes:
    token = bytes(12) + bytes.fromhex("44" * 20)
    return selector + token + amount.to_bytes(32, "big") + min_out.to_bytes(32, "big")


@pytest.mark.parametrize("selector", [PURCHASE_SELECTOR, REDEEM_SELECTOR], ids=["buy", "sell"])
def test_signed_plan__pool_leg__signed_by_its_aim_and_sent_with_any_min_out(selector):
    # the owners sign the trade and its band; the keeper sets minOut at send time (from the
    # fill it simulates), and the signature holds whatever minOut it sends
    with_floor = _leg(selector, 2_000_000 * 10**6, 1_960_000 * 10**18)
    p = make(actions=(with_floor, bytes.fromhex("eeff0011")), max_slippage_bps=(35, 0))
    assert p.actions[0] == aim(with_floor) and leg_min_out(p.actions[0]) == 0
    same = make(actions=(aim(with_floor), bytes.fromhex("eeff0011")), max_slippage_bps=(35, 0))
    assert plan_hash(p) == plan_hash(same)
    tight = with_min_out(p.actions[0], 1_999_000 * 10**18)
    data = encode_execute_action(p, 0, [], tight)
    assert tight in data and leg_min_out(tight) == 1_999_000 * 10**18
    # another amount is another trade: never sent under this plan's signatures
    other = _leg(selector, 2_000_001 * 10**6, 1_999_000 * 10**18)
    with pytest.raises(ValueError, match="not the plan's action"):
        encode_execute_action(p, 0, [], other)


def test_signed_plan__bands__one_per_action_fitting_uint16():
    with pytest.raises(ValueError, match="2 bands for 1 actions"):
        make(actions=(bytes.fromhex("eeff0011"),), max_slippage_bps=(1, 2))
    with pytest.raises(ValueError, match=r"max_slippage_bps\[1\] must fit uint16"):
        make(max_slippage_bps=(0, 65_536))
    doc = make(max_slippage_bps=(12, 0)).to_frozen([0, 1], ["purchaseAsset", "x"])
    assert SignedPlan.from_frozen(doc).max_slippage_bps == (12, 0)
    assert typed_data(make(max_slippage_bps=(12, 0)))["message"]["maxSlippageBps"] == [12, 0]
    del doc["max_slippage_bps"]
    with pytest.raises(ValueError, match="lacks max_slippage_bps"):
        SignedPlan.from_frozen(doc)
