// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title WindowBudgetLib
/// @notice A budget per window of time: what a keeper-initiated path may use (value lost,
/// notional moved) between `start` and `start + period`. The window opens at the first use after
/// the previous one ended (a tumbling window) and its use restarts at zero then. So within one
/// window at most `budget` is used, and any span of `period` seconds overlaps at most two windows:
/// at most 2 x `budget` in any `period` seconds.
/// @dev Minimal on purpose (the portfolio rebalancer's copy; the AssetController may carry a
/// richer one under the same name, to be reconciled): one struct, one mutator, one view.
library WindowBudgetLib {
    /// @param start When the current window opened (unix seconds).
    /// @param used What this window has used so far (the caller's unit, e.g. quote base units).
    struct Window {
        uint64 start;
        uint192 used;
    }

    /// @notice Using `amount` on top of `used` would pass `budget` in the current window.
    error WindowBudgetExceeded(uint256 used, uint256 amount, uint256 budget);

    /// @notice Adds `amount` to the window's use, opening a new window first when `period`
    /// seconds have passed since `start`; reverts with WindowBudgetExceeded above `budget`.
    /// @return usedAfter The window's use including `amount`.
    function consume(Window storage w, uint256 amount, uint256 budget, uint256 period)
        internal
        returns (uint256 usedAfter)
    {
        uint256 used = w.used;
        if (block.timestamp >= uint256(w.start) + period) {
            w.start = uint64(block.timestamp);
            used = 0;
        }
        usedAfter = used + amount;
        if (usedAfter > budget || usedAfter > type(uint192).max) {
            revert WindowBudgetExceeded(used, amount, budget);
        }
        // checked just above: usedAfter fits in uint192
        w.used = uint192(usedAfter);
    }

    /// @notice What the window has used as of now (0 once it has ended).
    function usedNow(Window memory w, uint256 period) internal view returns (uint256) {
        return block.timestamp >= uint256(w.start) + period ? 0 : w.used;
    }
}
