"""The vault's share maths round toward the fund, proved in two steps (issue 68), because no
solver here finishes on OpenZeppelin's ``Math.mulDiv`` inside a formula (docs/trust-model.md,
"What is proved, not sampled"):

1. ``mulDiv``'s rounding lemma, once, on its own: the floor result ``r`` satisfies
   ``r * d <= x * y < (r + 1) * d``, the ceil result adds one exactly when ``mulmod(x, y, d)`` is
   not zero, and it reverts exactly when ``d == 0`` or the result does not fit the word.

   - ``muldiv_bits_8``: OpenZeppelin 5.7.0's ``mulDiv`` transcribed operation for operation
     (``mul512``'s Chinese-remainder product, the 256-by-256 short path, the overflow panic, the
     remainder subtraction, the powers of two factored out, the inverse's seed and its
     Newton-Raphson steps, the final product) at a word width of 8 bits (the code is the same
     at every width but for the number of Newton steps, log2(W) - 2; ``oz_muldiv_bits`` takes
     any W), proved by z3 over bit-vectors for every x, y and d of that width: it returns
     exactly ``floor(x * y / d)`` when that fits the word and ``d != 0``, and reverts otherwise.
     About 90 s of CPU (z3 4.12.6, a loaded machine); 16 bits did not finish in 7 minutes (one
     run) and 256 bits is out of reach (the halmos attempts are in the trust model's page). So the
     512-bit path at 256-bit words is proved in its width-dependent part (the inverse, below)
     and sampled in the rest (the differential test).
   - ``newton_step`` (z3, unbounded integers, any modulus M): an inverse of ``d`` modulo M becomes
     one modulo M^2 after ``inv *= 2 - d * inv``; ``inverse_seed`` (bit-vectors, 256 bits):
     ``(3 * d) ^ 2`` is an inverse of every odd ``d`` modulo 2^4. Together: the six steps at
     256 bits give the inverse modulo 2^256 (4 -> 8 -> ... -> 256 bits), the one part of the
     algorithm whose step count depends on the width.
   - ``ceil``: ``mulDiv(x, y, d, Ceil) = mulDiv(x, y, d) + (mulmod(x, y, d) > 0)`` (its whole
     Solidity body) brackets ``x * y / d`` from above.
   - Tied to the real library: tests/contracts/fund/test_share_maths_model.py pins the text of
     ``Math.mulDiv`` that the transcription follows (a new OpenZeppelin fails it) and compares the
     deployed ``Math.mulDiv`` (floor and ceil) with exact integers on seeded 256-bit inputs,
     most of them on the 512-bit path.

2. The vault's rules with every ``mulDiv`` replaced by that lemma (as Certora summarises it
   for Morpho Blue): z3 over unbounded integers, on tests/symbolic/share_model.py, the
   vault's formulas line for line (``_feesNow``, ``_supplyNow``, ``previewDeposit``,
   ``previewMint``, ``_convertToShares``, ``_convertToAssets``), each ``mulDiv`` an unknown
   bounded by its lemma. The differential test above runs the same text on Python integers
   against the deployed TieredVault (6- and 18-decimal bases, fees on, seeded states), which is
   what makes these proofs about the vault's code rather than a copy that can drift.

What every vault rule assumes (its premises, stated again in each docstring): every stored
number is a natural number (the contract's are uint256 or narrower); fee rates within their
hard caps (200 and 2,000 bps: setFees reverts above); the fee slot's time not after the block's
(``accruedAt`` is a past block's); the call does not revert (Solidity 0.8's checked arithmetic
reverts where a word would wrap, so a call that returns computed the unbounded integers this
model computes); for the entry/exit comparisons, the entry valuation at least the exit one
(``high >= low``: the controller answers the higher and the lower of mark and live valuation).
The decimals offset is the contract's constant 10^6 for every base token; the proofs hold for
every magnitude, so for 6- and 18-decimal bases alike.

Each rule is also checked to fail on the model with every ``mulDiv`` rounded the other way
(toward the user), or, for the rules that are not about rounding, without the premise that
carries them: a rule that holds either way would prove nothing.

usage: python tests/symbolic/share_maths.py [NAME ...]    (prove.sh runs it; names: --list)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from z3 import (
    ULE,
    ULT,
    And,
    BitVec,
    BitVecVal,
    Bool,
    BoolVal,
    Extract,
    If,
    Implies,
    Int,
    Not,
    Or,
    Solver,
    SolverFor,
    UDiv,
    URem,
    ZeroExt,
    sat,
    unsat,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import share_model as sm  # noqa: E402

TIMEOUT_MS = 120_000

# --- 1. mulDiv ------------------------------------------------------------------------------


def oz_muldiv_bits(x, y, d, w: int, skip_step: bool = False):
    """OpenZeppelin 5.7.0 Math.mulDiv(x, y, denominator) at word width ``w``: (reverts, result).
    Each line names the Solidity it transcribes (node_modules/@openzeppelin/contracts/utils/
    math/Math.sol; the differential test pins that text)."""
    zero, one = BitVecVal(0, w), BitVecVal(1, w)
    ones = BitVecVal(2**w - 1, w)

    def mulmod(a, b, n):  # EVM mulmod: the product is not truncated; 0 when n == 0
        p = ZeroExt(w, a) * ZeroExt(w, b)
        return If(n == zero, zero, Extract(w - 1, 0, URem(p, ZeroExt(w, n))))

    def div(a, b):  # EVM div: 0 when b == 0
        return If(b == zero, zero, UDiv(a, b))

    # (uint256 high, uint256 low) = mul512(x, y)
    mm = mulmod(x, y, ones)  # let mm := mulmod(a, b, not(0))
    low = x * y  # low := mul(a, b)
    high = mm - low - If(ULT(mm, low), one, zero)  # high := sub(sub(mm, low), lt(mm, low))
    # if (high == 0) return low / denominator;   (checked division: reverts on 0)
    short = high == zero
    short_result = div(low, d)
    # if (denominator <= high) Panic
    panics = ULE(d, high)
    remainder = mulmod(x, y, d)  # remainder := mulmod(x, y, denominator)
    high2 = high - If(ULT(low, remainder), one, zero)  # high := sub(high, gt(remainder, low))
    low2 = low - remainder  # low := sub(low, remainder)
    twos = d & (zero - d)  # uint256 twos = denominator & (0 - denominator);
    d2 = div(d, twos)  # denominator := div(denominator, twos)
    low3 = div(low2, twos)  # low := div(low, twos)
    twos2 = div(zero - twos, twos) + one  # twos := add(div(sub(0, twos), twos), 1)
    low4 = low3 | (high2 * twos2)  # low |= high * twos;
    inverse = (BitVecVal(3, w) * d2) ^ BitVecVal(2, w)  # (3 * denominator) ^ 2
    steps, bits = 0, 4 * (2 if skip_step else 1)  # skip_step: the mutant, one step short
    while bits < w:  # inverse *= 2 - denominator * inverse;  (six times at 256 bits)
        inverse = inverse * (BitVecVal(2, w) - d2 * inverse)
        steps, bits = steps + 1, bits * 2
    result = low4 * inverse  # result = low * inverse;
    reverts = If(short, d == zero, panics)
    return reverts, If(short, short_result, result)


def muldiv_bits_lemma(w: int, skip_step: bool = False) -> Callable[[], tuple]:
    def build():
        x, y, d = BitVec("x", w), BitVec("y", w), BitVec("d", w)
        reverts, r = oz_muldiv_bits(x, y, d, w, skip_step)
        p = ZeroExt(w, x) * ZeroExt(w, y)  # the exact product, 2w bits
        D = ZeroExt(w, d)
        q = UDiv(p, D)  # exact floor (d != 0 below)
        fits = ULT(q, BitVecVal(2**w, 2 * w))
        goal = And(
            reverts == Or(d == 0, Not(fits)),
            Implies(Not(reverts), ZeroExt(w, r) == q),
        )
        return [], goal

    return build


def newton_step():
    """inv is an inverse of d modulo M => inv * (2 - d * inv) is one modulo M^2 (integers)."""
    d, inv, k, M = Int("d"), Int("inv"), Int("k"), Int("M")
    premises = [M >= 2, d * inv == 1 + k * M]
    nxt = inv * (2 - d * inv)
    # the witness: d * nxt = (1 + kM)(1 - kM) = 1 - k^2 M^2
    goal = d * nxt == 1 - (k * k) * (M * M)
    return premises, goal


def inverse_seed():
    """(3 * d) ^ 2 is an inverse of every odd d modulo 2^4, at 256 bits."""
    d = BitVec("d", 256)
    seed = (BitVecVal(3, 256) * d) ^ BitVecVal(2, 256)
    odd = Extract(0, 0, d) == BitVecVal(1, 1)
    return [odd], Extract(3, 0, d * seed) == BitVecVal(1, 4)


def ceil_lemma():
    """Math.mulDiv(x, y, d, Ceil) = floor + (mulmod(x, y, d) > 0) brackets x * y / d from above:
    (c - 1) * d < x * y <= c * d (integers; mulmod is the exact remainder x * y - floor * d)."""
    x, y, d, r = Int("x"), Int("y"), Int("d"), Int("r")
    floor_spec = And(r * d <= x * y, x * y < (r + 1) * d)
    rem = x * y - r * d
    c = r + If(rem > 0, 1, 0)
    return [x >= 0, y >= 0, d > 0, floor_spec], And((c - 1) * d < x * y, x * y <= c * d)


# --- 2. the vault's rules over the lemma ----------------------------------------------------


@dataclass
class Summary:
    """share_model's arithmetic for z3: each mulDiv a fresh unknown bounded by its lemma (floor:
    r * d <= x * y < (r + 1) * d; ceil: (r - 1) * d < x * y <= r * d), for d > 0 (the vault's
    denominators are; ``fee_below_value`` proves the one that is not a sum plus a constant).
    ``flip``: every mulDiv rounded the other way (the mutant each rule must fail on)."""

    flip: bool = False
    facts: list = field(default_factory=list)
    n: int = 0

    def mul_div(self, x, y, d, up: bool = False):
        self.n += 1
        r = Int(f"mulDiv{self.n}")
        if up != self.flip:
            spec = And((r - 1) * d < x * y, x * y <= r * d)
        else:
            spec = And(r * d <= x * y, x * y < (r + 1) * d)
        self.facts.append(Implies(d > 0, spec))
        return r

    @staticmethod
    def when(cond, then, other):
        return If(cond if not isinstance(cond, bool) else BoolVal(cond), then(), other())

    @staticmethod
    def or_(a, b):
        return Or(a, b)

    @staticmethod
    def not_(a):
        return Not(a)


def state(tag: str = "", fees: bool = False) -> tuple[sm.VaultState, list]:
    """A symbolic vault state and its premises: naturals, fee rates within their caps, the fee
    slot's time in the past. ``fees=False`` (the rounding rules): the fee rates are 0 and
    ``supply`` is any natural, standing for the ERC-20 supply plus the fee shares an accrual
    would mint now (``_supplyNow``): the fee shares enter the share formulas only through that
    sum, so a rule proved for every value of it holds for every fee the vault can compute (the
    fee rules below prove what that computation itself promises)."""
    names = (
        "supply",
        "bal",
        "claimable",
        "low",
        "high",
        "mgmt_bps",
        "perf_bps",
        "accrued_at",
        "now",
        "hwm",
        "book",
        "marked",  # the kept mark (an exit's valuation while pricing is unavailable): any natural
    )
    v = {n: Int(n + tag) for n in names}
    if not fees:
        v["mgmt_bps"] = v["perf_bps"] = 0
    st = sm.VaultState(down=Bool("down" + tag), **v)
    premises = [x >= 0 for x in v.values() if not isinstance(x, int)] + [
        st.mgmt_bps <= sm.MAX_MANAGEMENT_FEE_BPS,
        st.perf_bps <= sm.MAX_PERFORMANCE_FEE_BPS,
        st.accrued_at <= st.now,
    ]
    return st, [p for p in premises if not isinstance(p, bool)]


def fees_off(st: sm.VaultState, supply) -> sm.VaultState:
    """The state a second call meets, its fee shares (if any) already in ``supply``."""
    return replace(st, supply=supply, mgmt_bps=0, perf_bps=0)


@dataclass
class Rule:
    name: str
    doc: str
    build: Callable[[Summary], tuple[list, object]]  # -> (premises, goal); facts from m
    carried_by: int | None = None  # None: checked to fail on the flipped model instead


RULES: list[Rule] = []


def rule(carried_by: int | None = None):
    def deco(fn):
        RULES.append(Rule(fn.__name__, (fn.__doc__ or "").strip(), fn, carried_by))
        return fn

    return deco


@rule()
def deposit_rounds_down(m: Summary):
    """previewDeposit (and deposit, the same formula over the accrued supply): the shares are
    never more than the assets' exact worth at the entry price, fee shares counted:
    shares * (free + high + 1) <= assets * (supply now + 10^6)."""
    st, pre = state()
    a = Int("a")
    s = sm.preview_deposit(m, st, a)
    sup = sm.supply_now(m, st) + sm.OFFSET
    return pre + [a >= 0], s * (sm.free(m, st, st.bal) + st.high + 1) <= a * sup


@rule()
def mint_rounds_up(m: Summary):
    """previewMint (and mint): the assets taken are never less than the shares' exact worth at
    the entry price: assets * (supply now + 10^6) >= shares * (free + high + 1)."""
    st, pre = state()
    s = Int("s")
    a = sm.preview_mint(m, st, s)
    sup = sm.supply_now(m, st) + sm.OFFSET
    return pre + [s >= 0], a * sup >= s * (sm.free(m, st, st.bal) + st.high + 1)


@rule()
def withdraw_rounds_up(m: Summary):
    """previewWithdraw (and withdraw): the shares burnt are never fewer than the assets' exact
    worth at the exit price: shares * (free + low + 1) >= assets * (supply now + 10^6)."""
    st, pre = state()
    a = Int("a")
    s = sm.preview_withdraw(m, st, a)
    sup = sm.supply_now(m, st) + sm.OFFSET
    return pre + [a >= 0], s * (sm.free(m, st, st.bal) + st.low + 1) >= a * sup


@rule()
def redeem_rounds_down(m: Summary):
    """previewRedeem, convertToAssets (and redeem): the assets paid are never more than the
    shares' exact worth at the exit price: assets * (supply now + 10^6) <= shares * (free + low + 1)."""
    st, pre = state()
    s = Int("s")
    a = sm.preview_redeem(m, st, s)
    sup = sm.supply_now(m, st) + sm.OFFSET
    return pre + [s >= 0], a * sup <= s * (sm.free(m, st, st.bal) + st.low + 1)


@rule()
def convert_to_shares_rounds_down(m: Summary):
    """convertToShares (and maxRedeem's cash in shares): never more shares than the exact
    worth at the exit price."""
    st, pre = state()
    a = Int("a")
    s = sm.convert_to_shares(m, st, a)
    sup = sm.supply_now(m, st) + sm.OFFSET
    return pre + [a >= 0], s * (sm.free(m, st, st.bal) + st.low + 1) <= a * sup


def _entry_worth_at_most_paid(m: Summary, st, pre: list, given, s, a):
    """The post-fee price rules' premises and goal: right after an entry that took `a` assets
    for `s` shares (`given`, the one the entrant chose, non-negative), at the exit price with
    every fee share counted, the shares are worth at most `a`. Premise: high >= low (the last
    one)."""
    sup = sm.supply_now(m, st) + sm.OFFSET
    fr = sm.free(m, st, st.bal)
    return pre + [given >= 0, st.high >= st.low], s * (fr + a + st.low + 1) <= a * (sup + s)


def _after_exit(m: Summary, st, a, s):
    """The state right after an exit that paid `a` from free cash and burnt `s` shares, with no
    fee shares after it (as in one block: the round-trip rules)."""
    return fees_off(replace(st, bal=st.bal - a), sm.supply_now(m, st) - s)


def _redeemed_after_entry(m: Summary, st, s, a, f2):
    """What redeeming the `s` shares an entry of `a` assets made pays at the same valuation,
    `f2` fee shares minted between (the round-trip rules)."""
    after = fees_off(replace(st, bal=st.bal + a), sm.supply_now(m, st) + s + f2)
    return sm.preview_redeem(m, after, s)


@rule(carried_by=-1)
def entrant_never_below_post_fee_price(m: Summary):
    """Fees never make shares cheaper for an entrant: right after a deposit, at the exit price
    with every fee share counted (those the accrual minted first, ``supply now``), the
    entrant's shares are worth at most what it paid, so it took nothing from the holders or the
    fee's recipient. (The price per share itself is lower with fees on, by the fee: that is
    the holders' loss, priced in before the entry.) Premise: high >= low (the last one)."""
    st, pre = state()
    a = Int("a")
    return _entry_worth_at_most_paid(m, st, pre, a, sm.preview_deposit(m, st, a), a)


@rule(carried_by=-1)
def minter_never_below_post_fee_price(m: Summary):
    """The same for mint: the minted shares, right after, are worth at most the assets taken.
    Premise: high >= low (the last one)."""
    st, pre = state()
    s = Int("s")
    return _entry_worth_at_most_paid(m, st, pre, s, s, sm.preview_mint(m, st, s))


@rule(carried_by=-1)
def deposit_then_redeem_never_profits(m: Summary):
    """redeem(deposit(a)) <= a: a deposit's shares redeemed at the same valuation return at most
    the deposit, whatever fee shares are minted between (f2 >= 0: fees only add supply).
    Premise: high >= low (the last one)."""
    st, pre = state()
    a, f2 = Int("a"), Int("f2")
    back = _redeemed_after_entry(m, st, sm.preview_deposit(m, st, a), a, f2)
    return pre + [a >= 0, f2 >= 0, st.high >= st.low], back <= a


@rule(carried_by=-1)
def mint_then_redeem_never_profits(m: Summary):
    """redeem(s) after mint(s) returns at most what the mint took, whatever fee shares are
    minted between. Premise: high >= low (the last one)."""
    st, pre = state()
    s, f2 = Int("s"), Int("f2")
    a = sm.preview_mint(m, st, s)
    return pre + [s >= 0, f2 >= 0, st.high >= st.low], _redeemed_after_entry(m, st, s, a, f2) <= a


@rule(carried_by=-1)
def withdraw_then_deposit_never_profits(m: Summary):
    """deposit(a) after withdraw(a) gives back at most the shares the withdrawal burnt (the
    withdrawal paid from free cash: a <= free; no fee shares between, as in one block: the first
    call's accrual charged the time and lifted the mark past its own flow). Premise: high >= low
    (the last one)."""
    st, pre = state()
    a = Int("a")
    s = sm.preview_withdraw(m, st, a)
    again = sm.preview_deposit(m, _after_exit(m, st, a, s), a)
    paid_from_free = a <= sm.free(m, st, st.bal)
    return pre + [a >= 0, paid_from_free, s <= sm.supply_now(m, st), st.high >= st.low], again <= s


@rule(carried_by=-1)
def redeem_then_mint_never_profits(m: Summary):
    """mint(s) after redeem(s) costs at least what the redeem paid (paid from free cash; no fee
    shares between, as above). Premise: high >= low (the last one)."""
    st, pre = state()
    s = Int("s")
    a = sm.preview_redeem(m, st, s)
    cost = sm.preview_mint(m, _after_exit(m, st, a, s), s)
    return pre + [s >= 0, a <= sm.free(m, st, st.bal), s <= st.supply, st.high >= st.low], cost >= a


@rule(carried_by=-1)
def fee_below_value(m: Summary):
    """_feesNow charges less than the value it is taken from (management at most 2% a year for
    at most ten years, performance at most 20% of a rise below v + 1): ``v + 1 - fee`` never
    underflows, an accrual never reverts there, and the fee shares' mulDiv divides by a
    positive number. Premise: the management rate within its cap (the last one)."""
    st, pre = state(fees=True)
    pre = [p for p in pre if not _same(p, st.mgmt_bps <= sm.MAX_MANAGEMENT_FEE_BPS)]
    shares, mgmt, perf, _ = sm.fees_now(m, st, st.low, st.bal, st.supply)
    v = sm.free(m, st, st.bal) + st.low
    return pre + [st.mgmt_bps <= sm.MAX_MANAGEMENT_FEE_BPS], Implies(
        v <= sm.MAX_VALUE, mgmt + perf < v + 1
    )


@rule()
def fee_shares_worth_at_most_the_fee(m: Summary):
    """The fee shares an accrual mints (``mulDiv(fee, s, v + 1 - fee)``, rounded down) are worth
    at most the fee at the price after they are minted: shares * (v + 1) <= fee * (supply +
    10^6 + shares); the holders pay no more than the fee."""
    st, pre = state(fees=True)
    shares, mgmt, perf, _ = sm.fees_now(m, st, st.low, st.bal, st.supply)
    v = sm.free(m, st, st.bal) + st.low
    fee = mgmt + perf
    return pre, Implies(
        And(v <= sm.MAX_VALUE, fee < v + 1),
        shares * (v + 1) <= fee * (st.supply + sm.OFFSET + shares),
    )


@rule(carried_by=-1)
def fees_never_raise_a_holders_value(m: Summary):
    """A holder's shares are worth no more with fees on than with them off at the same state
    (convertToAssets, previewRedeem): the fee is taken from the holders, never added. Premise:
    the management rate not negative (the last one: the caps' lower end)."""
    st, pre = state(fees=True)
    pre = [p for p in pre if not _same(p, st.mgmt_bps >= 0)]
    x = Int("x")
    with_fees = sm.convert_to_assets(m, st, x)
    without = sm.convert_to_assets(m, fees_off(st, st.supply), x)
    return pre + [x >= 0, st.mgmt_bps >= 0], with_fees <= without


def _same(a, b) -> bool:
    return a.eq(b)


# --- running ---------------------------------------------------------------------------------


def check(premises: list, goal, facts: list = (), logic: str | None = None) -> object:
    """z3's answer to "premises and facts hold and goal does not": unsat proves the rule.
    ``logic``: z3's solver for that logic (a plain Solver with a time-out set gives up on the
    bit-vector lemmas: it answers ``unknown`` where QF_BV's bit-blasting answers ``unsat``)."""
    s = SolverFor(logic) if logic else Solver()
    s.add(*premises, *facts, Not(goal))
    return s.check()


LEMMAS: dict[str, Callable[[], tuple]] = {
    "muldiv_bits_8": muldiv_bits_lemma(8),
    "newton_step": newton_step,
    "inverse_seed": inverse_seed,
    "ceil": ceil_lemma,
}
# the premise each lemma cannot do without; the bit-width lemmas have none: each is checked to
# fail on the transcription one Newton step short instead
LEMMA_CARRIED_BY = {"newton_step": 1, "inverse_seed": 0, "ceil": 3}
LEMMA_MUTANT = {"muldiv_bits_8": muldiv_bits_lemma(8, skip_step=True)}


def run_lemma(name: str) -> bool:
    t0 = time.monotonic()
    premises, goal = LEMMAS[name]()
    logic = "QF_BV" if name.startswith(("muldiv_bits", "inverse_seed")) else None
    ok = check(premises, goal, logic=logic) == unsat
    needed = True
    i = LEMMA_CARRIED_BY.get(name)
    if i is not None:
        needed = check(premises[:i] + premises[i + 1 :], goal, logic=logic) == sat
    else:
        mp, mg = LEMMA_MUTANT[name]()
        needed = check(mp, mg, logic=logic) == sat
    secs = time.monotonic() - t0
    if ok and needed:
        why = (
            f"fails without premise {i}"
            if i is not None
            else "every input; fails one Newton step short"
        )
        print(f"[PASS] mulDiv lemma {name} (z3; {why}) ({secs:.2f}s)", flush=True)
        return True
    print(
        f"[FAIL] mulDiv lemma {name}: {'not proved' if not ok else 'holds without its premise'}",
        flush=True,
    )
    return False


def run_rule(r: Rule) -> bool:
    t0 = time.monotonic()
    m = Summary()
    premises, goal = r.build(m)
    ok = check(premises, goal, m.facts) == unsat
    if r.carried_by is None:
        mut = Summary(flip=True)
        mp, mg = r.build(mut)
        needed = check(mp, mg, mut.facts) == sat
        how = "fails with mulDiv rounded the other way"
    else:
        i = r.carried_by % len(premises)
        needed = check(premises[:i] + premises[i + 1 :], goal, m.facts) == sat
        how = f"fails without premise {i}"
    secs = time.monotonic() - t0
    if ok and needed:
        print(
            f"[PASS] share rule {r.name} (z3, integers, mulDiv by its lemma; {how}) ({secs:.2f}s)",
            flush=True,
        )
        return True
    print(
        f"[FAIL] share rule {r.name}: {'not proved' if not ok else 'holds on its mutant: proves nothing'}",
        flush=True,
    )
    return False


def main(argv: list[str]) -> int:
    if "--list" in argv:
        for n in LEMMAS:
            print(n)
        for r in RULES:
            print(r.name)
        return 0
    chosen = set(argv)
    failed = 0
    for n in LEMMAS:
        if not chosen or n in chosen:
            failed += not run_lemma(n)
    for r in RULES:
        if not chosen or r.name in chosen:
            failed += not run_rule(r)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
