// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {WindowBudgetLib} from "../../contracts/libraries/WindowBudgetLib.sol";
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

    function _at(uint256 t) internal {
        vm.warp(t);
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
        _at(t1);
        w.consume(x1, budget, period);
        assert(w.used <= budget);
        _at(t2);
        w.consume(x2, budget, period);
        assert(w.used <= budget);
        _at(t3);
        w.consume(x3, budget, period);
        assert(w.used <= budget);
        if (t2 - t1 < period) assert(x1 + x2 <= 2 * budget);
        if (t3 - t2 < period) assert(x2 + x3 <= 2 * budget);
        if (t3 - t1 < period) assert(x1 + x2 + x3 <= 2 * budget);
    }
}
