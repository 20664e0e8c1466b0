"""One recovery rule: the keeper (keepers/core/signatures.py) accepts exactly the signatures the
contracts count. Random and malformed encodings of real signatures (v 0/1/27/28/other, the
high-s twin, the 64-byte EIP-2098 form, 66+ bytes, zero, random bytes) go to both: to
OpenZeppelin's ECDSA.tryRecover (the rule PlanExecutor.countApprovals uses) through a test
harness, and to PlanExecutor.countApprovals itself with a real Safe owner's signature; the
keeper's answer must be the contract's on every one."""

import pytest
from eth_account import Account
from eth_utils import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ballast_dev.deployment.plan_executor import deploy_plan_executor
from keepers.core.signatures import SECP256K1_N, normalise_v, try_recover
from tests.support.fixtures_safe import safe_per_base_coin

OWNER = Account.from_key(keccak(b"signature rule owner"))


def _sign(digest: bytes, key=OWNER) -> bytes:
    return bytes(key.unsafe_sign_hash(digest).signature)


def _variants(sig: bytes, kind: str, extra: bytes) -> bytes:
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    if kind == "as_is":
        return sig
    if kind == "v01":
        return sig[:64] + bytes([v - 27])
    if kind == "v_other":
        return sig[:64] + bytes([extra[0] if extra and extra[0] not in (27, 28) else 29])
    if kind == "high_s":  # the malleable twin: n - s with v flipped recovers the same key
        return r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])
    if kind == "eip2098":
        vs = s | ((v - 27) << 255)
        return r + vs.to_bytes(32, "big")
    if kind == "long":
        return sig + (extra or b"\x00")
    if kind == "zero":
        return bytes(65)
    if kind == "random":
        return extra
    raise AssertionError(kind)


KINDS = ["as_is", "v01", "v_other", "high_s", "eip2098", "long", "zero", "random"]


safe = safe_per_base_coin()


@pytest.fixture(scope="module")
def executor(project, deployer, fund, keeper, safe):
    timelock = deployer.deploy(
        project.FundTimelock, 0, [safe.address], [safe.address], "0x" + "00" * 20, []
    )
    return deploy_plan_executor(
        project, fund, deployer, safe=safe, timelock=timelock, keeper=keeper, approval_threshold=1
    )


@pytest.fixture(scope="module")
def harness(project, deployer, gov, keeper, guardian, alice, bob, carol, whale, attacker):
    # (the session's accounts the module's later fixtures take: set up before this first module
    # fixture, none comes after it, which would make ape rebase the module: InvalidIsolationWarning)
    return deployer.deploy(project.TestEcdsaRecover)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    digest=st.binary(min_size=32, max_size=32),
    kind=st.sampled_from(KINDS),
    extra=st.binary(min_size=0, max_size=97),
)
def test_keeper_and_openzeppelin_agree_on_every_encoding(harness, digest, kind, extra):
    sig = _variants(_sign(digest), kind, extra)
    ours = try_recover(digest, sig)
    signer, err = harness.tryRecover(digest, sig)
    if err == 0:
        assert ours.signer == signer, (kind, ours.reason)
    else:
        assert ours.signer is None, (kind, signer, err)
        assert ours.reason
    if kind == "as_is":
        assert ours.signer == OWNER.address


@pytest.mark.parametrize("kind", KINDS)
def test_executor_counts_exactly_what_the_keeper_counts(executor, safe, alice, kind):
    """countApprovals with a real Safe owner's signature in every encoding."""
    digest = keccak(b"a plan hash " + kind.encode())
    owner = Account.from_key(alice.private_key)
    assert safe.isOwner(owner.address)
    sig = _variants(_sign(digest, owner), kind, b"\x07" * 33)
    ours = try_recover(digest, sig)
    keeper_counts = int(ours.signer == owner.address)
    assert executor.countApprovals(digest, [sig]) == keeper_counts, ours.reason
    assert keeper_counts == (kind == "as_is")


@pytest.mark.parametrize(
    "kind, says",
    [
        ("v01", "v is 0/1"),
        ("high_s", "high-s"),
        ("eip2098", "EIP-2098"),
        ("long", "expected 65 bytes"),
        ("zero", "zero"),
    ],
)
def test_refusals_say_why(kind, says):
    digest = keccak(b"why")
    got = try_recover(digest, _variants(_sign(digest), kind, b"\x01"))
    assert got.signer is None and says in got.reason


def test_normalise_v__intake_turns_v01_into_the_counted_form():
    digest = keccak(b"intake")
    raw = _variants(_sign(digest), "v01", b"")
    fixed, changed = normalise_v(raw)
    assert changed and try_recover(digest, fixed).signer == OWNER.address
    assert normalise_v(fixed) == (fixed, False)
