// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title WindowBudgetLib
/// @notice Budgets per window of time for keeper-initiated paths (value lost, notional moved),
/// in two shapes:
/// - `Usage` (AssetController): a leaky bucket. What was used drains linearly at
///   `budget / window` per second; a use is allowed while the bucket stays within `budget`.
/// - `Window` (PortfolioRebalancer): a tumbling window that opens at the first use after the
///   previous one ended and restarts at zero.
/// @dev Either way, over any span of T seconds at most `budget * (1 + T / window)` is used:
/// `budget` per window in steady state and at most twice it in any window-long span. The README
/// states the bound as "X per day, 2X in the worst 24 h span".
library WindowBudgetLib {
    /// @notice Two budgets sharing one clock, packed in one slot.
    struct Usage {
        uint96 a; // used of the first budget (e.g. value lost), in base units
        uint96 b; // used of the second budget (e.g. notional moved), in base units
        uint64 updatedAt;
    }

    /// @notice What is still used of `used` after `elapsed` seconds of draining.
    function drained(uint256 used, uint256 elapsed, uint256 budget, uint256 window) internal pure returns (uint256) {
        if (elapsed >= window) return 0;
        uint256 drain = budget * elapsed / window; // budget < 2^96, elapsed < 2^64: no overflow
        return used > drain ? used - drain : 0;
    }

    /// @notice The usage now (drained since it was last written), without writing it.
    function current(Usage memory u, uint256 budgetA, uint256 budgetB, uint256 window)
        internal
        view
        returns (uint256 usedA, uint256 usedB)
    {
        uint256 elapsed = block.timestamp - u.updatedAt;
        usedA = drained(u.a, elapsed, budgetA, window);
        usedB = drained(u.b, elapsed, budgetB, window);
    }

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
