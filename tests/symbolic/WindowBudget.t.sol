// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {WindowBudgetLib} from "../../contracts/libraries/WindowBudgetLib.sol";
import {ITieredVault} from "../../contracts/interfaces/ITieredVault.sol";
import {AssetControllerStorage} from "../../contracts/fund/AssetControllerStorage.sol";
import {SymTest} from "./Cheats.sol";

/// @notice Proofs over WindowBudgetLib for every amount, budget and timestamp (halmos).
/// @dev A refused use reverts and changes no state, so any sequence of attempts leaves the same
/// state as the subsequence the library accepted: proving a property over every sequence of
/// ACCEPTED uses (halmos drops the paths where a use reverts) proves it over every sequence of
/// attempts. Sequences are bounded at three uses (the 2x bound needs two windows; a third use
/// covers a window re-opened in between).
contract WindowBudgetProofs is SymTest {
    using WindowBudgetLib for WindowBudgetLib.Window;

    uint256 internal constant DAY = 86_400;

    WindowBudgetLib.Window internal w;

    /// @dev Three uses in time order, of any amounts and at any times, under any period up to a
    /// year: the inputs of each proof over the tumbling window.
    struct Uses {
        uint256 period;
        uint64 t1;
        uint64 t2;
        uint64 t3;
        uint256 x1;
        uint256 x2;
        uint256 x3;
    }

    function _assumeInOrder(Uses memory u) internal pure {
        vm.assume(u.period > 0 && u.period <= 365 * DAY);
        vm.assume(u.t1 <= u.t2 && u.t2 <= u.t3);
    }

    /// One accepted use at `t` under `budget`; after it the window holds at most that budget.
    function _use(uint256 t, uint256 x, uint256 budget, uint256 period) internal {
        vm.warp(t);
        w.consume(x, budget, period);
        assert(w.used <= budget);
    }

    /// Tumbling window (PortfolioRebalancer): for any three accepted uses at any times, the
    /// window's use never passes the budget and what goes through in any span shorter than
    /// the period is at most twice the budget.
    function check_window_twice_budget_in_any_span(uint256 budget, Uses memory u) public {
        _assumeInOrder(u);
        _use(u.t1, u.x1, budget, u.period);
        _use(u.t2, u.x2, budget, u.period);
        _use(u.t3, u.x3, budget, u.period);
        if (u.t2 - u.t1 < u.period) assert(u.x1 + u.x2 <= 2 * budget);
        if (u.t3 - u.t2 < u.period) assert(u.x2 + u.x3 <= 2 * budget);
        if (u.t3 - u.t1 < u.period) assert(u.x1 + u.x2 + u.x3 <= 2 * budget);
    }

    /// Lowering a budget never lets more through (tumbling window; the caller passes the budget
    /// in force at each use, so an admin's change takes effect at the next use): three accepted
    /// uses, each under any budget. After each, the window holds at most the budget then in
    /// force, what it used before the change included; so once a budget is lowered below what
    /// the window already used, nothing more passes in that window.
    function check_lowered_budget_never_lets_more_through(uint256 b1, uint256 b2, uint256 b3, Uses memory u) public {
        _assumeInOrder(u);
        _use(u.t1, u.x1, b1, u.period);
        uint64 opened = w.start;
        _use(u.t2, u.x2, b2, u.period);
        if (w.start == opened) assert(u.x1 + u.x2 <= b2); // one window: the earlier use counts too
        _use(u.t3, u.x3, b3, u.period);
        if (w.start == opened) assert(u.x1 + u.x2 + u.x3 <= b3);
    }

    /// The leaky bucket's drain rate (`WindowBudgetLib.drained`): over `elapsed` seconds a bucket
    /// holding `used`, at most its budget, lets out at most `budget * elapsed / window`, for every
    /// value of the controller's types (used and budget uint96, elapsed uint64, window uint32,
    /// non-zero). Without `used <= budget` it does not hold: once a window has passed the bucket
    /// empties whatever it held (halmos' counterexample: budget 0, window 1 s). Within a span
    /// under fixed limits the bucket is within its budget after every use (the proof above).
    /// @custom:halmos --solver-command scripts/toolchain/smt-portfolio
    function check_drain_at_most_budget_rate(uint96 used, uint64 elapsed, uint96 budget, uint32 window)
        public
        pure
    {
        vm.assume(window > 0 && used <= budget);
        uint256 left = WindowBudgetLib.drained(used, elapsed, budget, window);
        assert(left <= used);
        assert((used - left) * window <= uint256(budget) * elapsed);
    }
}

/// @notice A vault with no more than AssetControllerStorage's constructor reads: its asset (this
/// contract, a 6-decimal token).
contract TestBudgetVault {
    function asset() external view returns (address) {
        return address(this);
    }

    function decimals() external pure returns (uint8) {
        return 6;
    }
}

/// @notice The AssetController's leaky-bucket budgets (`loss_budget`, `notional_budget`): the
/// controller's own `_useBudget` and `_storeUsage`, inherited with its storage from
/// AssetControllerStorage (the controller itself is too large for halmos to set up), over
/// WindowBudgetLib.
/// What is proved: the bucket never holds more than the budget in force at each use, for every
/// budget, window, amount and timestamp, budgets changed (lowered or raised) between uses
/// included; and, under fixed limits, the 2x bound over any span of one window for any number of
/// uses (the induction below). The drain's products and quotients go to bitwuzla and cvc5 (the
/// proofs' solver-command annotations, scripts/toolchain/smt-portfolio): yices and z3 time out
/// on them.
contract LeakyBudgetProofs is SymTest, AssetControllerStorage {
    constructor() AssetControllerStorage(ITieredVault(address(new TestBudgetVault()))) {}

    /// @dev One call of the controller: its legs' uses booked in memory by `_useBudget`, then
    /// written once by `_storeUsage`, as AssetController._afterMoves does after the call's last
    /// leg. A call of several legs ends exactly as one use of their sums would (each leg's check
    /// is on the running sums, and the last is the strongest), so the proofs below cover calls
    /// of any number of legs.
    function _call(uint256 lost, uint256 moved) private {
        Snap memory s;
        _useBudget(s, lost, moved);
        _storeUsage(s);
    }

    function _step(uint64 t, MoveLimits memory l, uint256 lost, uint256 moved) internal {
        vm.warp(t);
        _limits = l;
        _call(lost, moved);
        WindowBudgetLib.Usage memory u = _usage;
        assert(u.a <= l.lossBudget && u.b <= l.notionalBudget);
        assert(u.a >= lost && u.b >= moved); // nothing booked is lost to truncation
        assert(u.updatedAt == t);
    }

    /// Three accepted uses at any times, each under any budgets and window (the admin may lower
    /// or the timelock raise them in between): after each, the bucket holds at most the budget
    /// then in force, and at least the use itself.
    function check_leaky_bucket_never_holds_more_than_its_budget(
        uint64 t1,
        uint64 t2,
        uint64 t3,
        MoveLimits memory l1,
        MoveLimits memory l2,
        MoveLimits memory l3,
        uint256 lost1,
        uint256 moved1,
        uint256 lost2,
        uint256 moved2,
        uint256 lost3,
        uint256 moved3
    ) public {
        vm.assume(t1 <= t2 && t2 <= t3);
        _step(t1, l1, lost1, moved1);
        _step(t2, l2, lost2, moved2);
        _step(t3, l3, lost3, moved3);
    }

    /// The 2x bound, for any number of uses in any span of at most one window, by induction over
    /// the span's accepted uses, under fixed limits (budget `B`, window `W`). Ghost values:
    /// `sum`, what the span's uses booked so far, and `drained`, what the bucket let out between
    /// them. The invariant, for each of the two budgets, is `sum <= held + drained`, `held` being
    /// what the bucket holds after the latest use. Its base: after any use `held >= used`
    /// (asserted after every use, in the step's proof too, from any state within the budgets),
    /// with nothing drained yet; its step is
    /// `check_leaky_bucket_span_step` (the library's `book`, linear); the drain between
    /// two uses `e` seconds apart is at most `B * e / W` (`check_drain_at_most_budget_rate`, the
    /// library's `drained`: the non-linear step); and `tests/symbolic/arithmetic_lemmas.py` proves
    /// over unbounded integers (z3) that such drains over a span of at most `W` seconds add up to
    /// at most `B`. So a span of one window books at most `held + B <= 2 * B`, however many uses.

    /// Step: one more accepted use, any time after the latest, keeps `sum <= held + drained`
    /// with what drained in between added (what `WindowBudgetLib.current` takes off the bucket).
    /// @custom:halmos --solver-command scripts/toolchain/smt-portfolio
    function check_leaky_bucket_span_step(
        WindowBudgetLib.Usage memory before,
        MoveLimits memory l,
        uint256 sumA,
        uint256 sumB,
        uint256 drainedA,
        uint256 drainedB,
        uint64 t,
        uint256 lost,
        uint256 moved
    ) public {
        vm.assume(before.a <= l.lossBudget && before.b <= l.notionalBudget && before.updatedAt <= t);
        vm.assume(sumA < 2 ** 128 && sumB < 2 ** 128 && drainedA < 2 ** 128 && drainedB < 2 ** 128);
        vm.assume(sumA <= before.a + drainedA && sumB <= before.b + drainedB);
        vm.warp(t);
        (uint256 nowA, uint256 nowB) = WindowBudgetLib.current(before, l.lossBudget, l.notionalBudget, l.window);
        _usage = before;
        _step(t, l, lost, moved);
        assert(sumA + lost <= _usage.a + drainedA + (before.a - nowA));
        assert(sumB + moved <= _usage.b + drainedB + (before.b - nowB));
    }
}
