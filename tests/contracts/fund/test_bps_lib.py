"""BpsLib answers exactly what Math.mulDiv answers (issue 45's gas work gave it a 256-bit path
where the product provably fits): held against mulDiv on random inputs and at and around the
bounds where it switches paths, including where both revert (a mulDiv result above 256 bits, a
bps above 10,000)."""

import ape
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_EDGES = [0, 1, 9_999, 10_000, 10_001, 2**128 - 1, 2**128, 2**242 - 1, 2**242, 2**242 + 1,
          2**255, 2**256 - 1]  # fmt: skip
_word = st.one_of(st.sampled_from(_EDGES), st.integers(0, 2**256 - 1), st.integers(0, 10**40))
_bps = st.one_of(st.sampled_from([0, 1, 5_000, 9_999, 10_000]), st.integers(0, 10_000))
_any_bps = st.one_of(_bps, st.sampled_from([2**128 - 1, 2**128, 2**256 - 1]), _word)
_SETTINGS = dict(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def lib(project, deployer):
    return deployer.deploy(project.TestBpsLib)


def _same(fast, ref, *args):
    """Both answer the same, or both revert."""
    try:
        want = ref(*args)
    except ape.exceptions.ContractLogicError:
        with pytest.raises(ape.exceptions.ContractLogicError):
            fast(*args)
        return
    assert fast(*args) == want, args


@settings(**_SETTINGS)
@given(_word, _word)
def test_ratio__any_inputs__as_muldiv(lib, part, whole):
    _same(lib.ratio, lib.ratioRef, part, whole)


@settings(**_SETTINGS)
@given(_word, _any_bps)
def test_share__any_inputs__as_muldiv(lib, amount, bps):
    _same(lib.share, lib.shareRef, amount, bps)


@settings(**_SETTINGS)
@given(_word, st.one_of(_bps, st.integers(10_001, 2**256 - 1)))
def test_less__any_inputs__as_muldiv_rounded_up(lib, amount, bps):
    _same(lib.less, lib.lessRef, amount, bps)


@pytest.mark.parametrize("x", _EDGES)
def test_bps_lib__at_the_path_bounds__as_muldiv(lib, x):
    for whole in (1, 3, 10_000, x or 1, 2**256 - 1):
        _same(lib.ratio, lib.ratioRef, x, whole)
    for bps in (0, 1, 9_999, 10_000, 2**128 - 1, 2**128):
        _same(lib.share, lib.shareRef, x, bps)
        _same(lib.share, lib.shareRef, bps, x)
    for bps in (0, 1, 9_999, 10_000, 10_001):
        _same(lib.less, lib.lessRef, x, bps)
