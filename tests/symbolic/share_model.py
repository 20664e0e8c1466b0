"""TieredVault's share maths, line for line, over a pluggable arithmetic: the one text that the
share proofs (tests/symbolic/share_maths.py: z3 over unbounded integers, ``mulDiv`` summarised
by its rounding lemma) and the differential test against the deployed vault
(tests/contracts/fund/test_share_maths_model.py: Python integers, ``mulDiv`` exact) both run.
The differential test is what ties this copy to the contract: a formula edited in
contracts/fund/TieredVault.sol and not here fails it on its seeded states.

Each function names the Solidity function it mirrors. Arithmetic outside ``mulDiv`` is checked
Solidity arithmetic (0.8: ``+ - *`` revert where a uint256 would wrap), so for every call that
does not revert it computes the exact integers computed here; no share formula sits in an
``unchecked`` block. ``Math.mulDiv``'s own wrapping 512-bit code is the one part taken from its
lemma (share_maths.py proves it).

usage: imported (no command line)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

OFFSET = 10**6  # 10 ** TieredVault.DECIMALS_OFFSET (for 6- and 18-decimal base tokens alike)
BPS = 10_000
YEAR = 365 * 86_400
MAX_ACCRUAL = 10 * YEAR
PRICE_SCALE = 10**24
MAX_VALUE = 2**160 - 1
MAX_MANAGEMENT_FEE_BPS = 200
MAX_PERFORMANCE_FEE_BPS = 2_000


class Exact:
    """Python integers: ``mulDiv`` as OpenZeppelin's result (floor, or ceil when ``up``)."""

    @staticmethod
    def mul_div(x: int, y: int, d: int, up: bool = False) -> int:
        assert d > 0, f"mulDiv by {d}: the contract reverts"
        q, r = divmod(x * y, d)
        return q + (1 if up and r else 0)

    @staticmethod
    def when(cond: bool, then: Callable[[], Any], other: Callable[[], Any]) -> Any:
        return then() if cond else other()

    @staticmethod
    def or_(a: bool, b: bool) -> bool:
        return a or b

    @staticmethod
    def not_(a: bool) -> bool:
        return not a


@dataclass
class VaultState:
    """What the share maths read: the ERC-20 supply, the vault's cash balance and reserve, the
    controller's pricing answer, the fee slot, the mark and the book, and the block's time."""

    supply: Any  # totalSupply()
    bal: Any  # the base token's balanceOf(vault)
    claimable: Any  # _claimable: cash reserved for funded, unclaimed requests
    low: Any  # pricingValues(): the exit valuation of the invested tiers
    high: Any  # the entry valuation
    down: Any  # a held asset's feed down (or the controller reverted: then low = high = 0)
    mgmt_bps: Any
    perf_bps: Any
    accrued_at: Any
    now: Any  # block.timestamp
    hwm: Any  # _hwm
    book: Any  # _book
    # the controller's markedValues() summed (the kept mark: what an exit in an outage is
    # valued at, issue 65); None: the same as `low` (the test double answers (low, 0))
    marked: Any = None


class _Once:
    """A computation run at most once (both branches of a z3 If are built: see share_maths)."""

    def __init__(self, fn: Callable[[], Any]):
        self.fn, self.done, self.value = fn, False, None

    def __call__(self) -> Any:
        if not self.done:
            self.value, self.done = self.fn(), True
        return self.value


def free(m, st: VaultState, bal):
    """_free(bal)"""
    return m.when(bal > st.claimable, lambda: bal - st.claimable, lambda: 0)


def fees_on(m, st: VaultState):
    """_feesOn (setFees keeps it `(managementBps | performanceBps) != 0`)"""
    return m.or_(st.mgmt_bps != 0, st.perf_bps != 0)


def price(m, v, supply):
    """_price(v, supply)"""
    v = m.when(v > MAX_VALUE, lambda: MAX_VALUE, lambda: v)
    return m.mul_div(v + 1, PRICE_SCALE, supply + OFFSET)


def fees_now(m, st: VaultState, low, bal, supply, priced=True):
    """_feesNow(f, low, bal, supply, priced) -> (shares, mgmt, perf, hwm); ``priced`` False
    (pricing unavailable, ``low`` the kept mark's value): the management fee only.

    Not modelled: `_outageLift`, which adds to the mark while an outage's cash exits wait for
    the first priced accrual (the fee slot's `outageExits`). The seeded states here have none
    waiting, and the proofs take the mark free: a lifted mark is one of the marks they cover."""
    v = free(m, st, bal) + low

    def charged():
        s = supply + OFFSET
        dt0 = st.now - st.accrued_at
        dt = m.when(dt0 > MAX_ACCRUAL, lambda: MAX_ACCRUAL, lambda: dt0)
        mgmt = m.mul_div(v, st.mgmt_bps * dt, BPS * YEAR)

        def with_perf():
            fr = free(m, st, bal)
            hwm = m.when(
                fr > st.book,
                lambda: st.hwm + m.mul_div(fr - st.book, PRICE_SCALE, s, True),
                lambda: st.hwm,
            )
            p = price(m, v, supply)
            perf = m.when(
                p > hwm,
                lambda: m.mul_div(m.mul_div(p - hwm, s, PRICE_SCALE) * st.perf_bps, 1, BPS),
                lambda: 0,
            )
            return perf, hwm

        once = _Once(with_perf)  # one evaluation for both outputs (one set of z3 unknowns)
        perf_bps = st.perf_bps if priced else 0
        perf = m.when(perf_bps != 0, lambda: once()[0], lambda: 0)
        hwm = m.when(perf_bps != 0, lambda: once()[1], lambda: st.hwm)
        fee = mgmt + perf
        shares = m.when(fee != 0, lambda: m.mul_div(fee, s, v + 1 - fee), lambda: 0)

        def lifted():
            after = price(m, v, supply + shares)
            return m.when(after > hwm, lambda: after, lambda: hwm)

        hwm = m.when(perf_bps != 0, lifted, lambda: hwm)
        return shares, mgmt, perf, hwm

    # the early return past _MAX_VALUE, each output on its own (a z3 If has one sort)
    over = v > MAX_VALUE
    once = _Once(charged)
    return tuple(
        m.when(over, lambda i=i: (0, 0, 0, st.hwm)[i], lambda i=i: once()[i]) for i in range(4)
    )


def supply_now(m, st: VaultState):
    """_supplyNow(low, down, bal): the supply with the fee shares an accrual would mint now
    (an exit's: with pricing unavailable, the management fee at the kept mark)"""
    marked = st.low if st.marked is None else st.marked
    return m.when(
        m.not_(fees_on(m, st)),
        lambda: st.supply,
        lambda: m.when(
            st.down,
            lambda: st.supply + fees_now(m, st, marked, st.bal, st.supply, False)[0],
            lambda: st.supply + fees_now(m, st, st.low, st.bal, st.supply)[0],
        ),
    )


def preview_deposit(m, st: VaultState, assets):
    """previewDeposit (and deposit's shares: the same formula over the accrued supply)"""
    return m.mul_div(assets, supply_now(m, st) + OFFSET, free(m, st, st.bal) + st.high + 1)


def preview_mint(m, st: VaultState, shares):
    """previewMint (and mint's assets)"""
    return m.mul_div(shares, free(m, st, st.bal) + st.high + 1, supply_now(m, st) + OFFSET, True)


def convert_to_shares(m, st: VaultState, assets, up: bool = False):
    """_convertToShares(assets, rounding): convertToShares (floor), previewWithdraw (ceil) and
    withdraw's shares"""
    return m.mul_div(assets, supply_now(m, st) + OFFSET, free(m, st, st.bal) + st.low + 1, up)


def convert_to_assets(m, st: VaultState, shares, up: bool = False):
    """_convertToAssets(shares, rounding): convertToAssets and previewRedeem (floor), redeem's
    assets"""
    return m.mul_div(shares, free(m, st, st.bal) + st.low + 1, supply_now(m, st) + OFFSET, up)


def preview_withdraw(m, st: VaultState, assets):
    return convert_to_shares(m, st, assets, True)


def preview_redeem(m, st: VaultState, shares):
    return convert_to_assets(m, st, shares, False)
