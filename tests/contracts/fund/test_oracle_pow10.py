"""OracleLib.pow10 (one EXP, for the AssetController's EIP-170 room) answers exactly what the
checked `10 ** e` it replaced answers: the same power below 10**78, and from there the same
revert (Panic 0x11, arithmetic overflow), never a wrapped value."""

import pytest

_PANIC_OVERFLOW = bytes.fromhex("4e487b71") + (0x11).to_bytes(32, "big")


@pytest.fixture(scope="module")
def lib(project, deployer):
    return deployer.deploy(project.TestOracleLib)


@pytest.mark.parametrize(
    "e", [0, 1, 6, 18, 36, 76, 77, 78, 79, 255, 256, 510, 2**64, 2**255, 2**256 - 1]
)
def test_pow10__any_exponent__answers_or_reverts_as_checked_exponentiation(lib, e):
    ok_fast, fast, ok_ref, ref = lib.both(e)
    assert (ok_fast, bytes(fast)) == (ok_ref, bytes(ref))
    if e <= 77:
        assert ok_fast and int.from_bytes(bytes(fast), "big") == 10**e
    else:
        assert not ok_fast and bytes(fast) == _PANIC_OVERFLOW
