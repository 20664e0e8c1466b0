// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {WindowBudgetLib} from "../../contracts/libraries/WindowBudgetLib.sol";
import {IAssetControllerTypes} from "../../contracts/interfaces/IAssetControllerTypes.sol";
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

    /// One accepted use at `t` under `budget`; after it the window holds at most that budget.
    function _use(uint256 t, uint256 x, uint256 budget, uint256 period) internal {
        vm.warp(t);
        w.consume(x, budget, period);
        assert(w.used <= budget);
    }

    /// Tumbling window (PortfolioRebalancer): for any three accepted uses at any times, the
    /// window's use never passes the budget and what goes through in any span shorter than
    /// the period is at most twice the budget.
    function check_window_twice_budget_in_any_span(
        uint256 budget,
        uint256 period,
        uint64 t1,
        uint64 t2,
        uint64 t3,
        uint256 x1,
        uint256 x2,
        uint256 x3
    ) public {
        vm.assume(period > 0 && period <= 365 * DAY);
        vm.assume(t1 <= t2 && t2 <= t3);
        _use(t1, x1, budget, period);
        _use(t2, x2, budget, period);
        _use(t3, x3, budget, period);
        if (t2 - t1 < period) assert(x1 + x2 <= 2 * budget);
        if (t3 - t2 < period) assert(x2 + x3 <= 2 * budget);
        if (t3 - t1 < period) assert(x1 + x2 + x3 <= 2 * budget);
    }

    /// Lowering a budget never lets more through (tumbling window; the caller passes the budget
    /// in force at each use, so an admin's change takes effect at the next use): three accepted
    /// uses, each under any budget. After each, the window holds at most the budget then in
    /// force, what it used before the change included; so once a budget is lowered below what
    /// the window already used, nothing more passes in that window.
    function check_lowered_budget_never_lets_more_through(
        uint256 b1,
        uint256 b2,
        uint256 b3,
        uint256 period,
        uint64 t1,
        uint64 t2,
        uint64 t3,
        uint256 x1,
        uint256 x2,
        uint256 x3
    ) public {
        vm.assume(period > 0 && period <= 365 * DAY);
        vm.assume(t1 <= t2 && t2 <= t3);
        _use(t1, x1, b1, period);
        uint64 opened = w.start;
        _use(t2, x2, b2, period);
        if (w.start == opened) assert(x1 + x2 <= b2); // one window: the earlier use counts too
        _use(t3, x3, b3, period);
        if (w.start == opened) assert(x1 + x2 + x3 <= b3);
    }
}

/// @notice The AssetController's leaky-bucket budgets (`loss_budget`, `notional_budget`).
/// @dev `_useBudget` below is the controller's, character for character (a test keeps the two
/// in step: tests/offchain/tooling/test_symbolic_harness_in_step.py), over the same library.
/// Where the proof stops: it proves the bucket never holds more than the budget in force at
/// each use, for every budget, window, amount and timestamp, budgets changed (lowered or
/// raised) between uses included. It does not prove the 2x bound over a 24 h span: that needs
/// `budget * elapsed / window` reasoned about, and both solvers time out on its one-line lemma
/// (floor(b * e / w) * w <= b * e) at 60 s; the invariant suites sample it.
contract LeakyBudgetProofs is SymTest, IAssetControllerTypes {
    MoveLimits internal _limits;
    WindowBudgetLib.Usage internal _usage;

    function _useBudget(uint256 lost, uint256 moved) private {
        MoveLimits memory l = _limits;
        if (l.window == 0) revert NotionalBudgetExceeded(moved, 0); // never configured
        (uint256 a, uint256 b) = WindowBudgetLib.current(_usage, l.lossBudget, l.notionalBudget, l.window);
        a += lost;
        b += moved;
        if (a > l.lossBudget) revert LossBudgetExceeded(a, l.lossBudget);
        if (b > l.notionalBudget) revert NotionalBudgetExceeded(b, l.notionalBudget);
        // cannot truncate: a and b are at most their uint96 budgets
        _usage = WindowBudgetLib.Usage(uint96(a), uint96(b), uint64(block.timestamp));
    }

    function _step(uint64 t, MoveLimits memory l, uint256 lost, uint256 moved) internal {
        vm.warp(t);
        _limits = l;
        _useBudget(lost, moved);
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
}
