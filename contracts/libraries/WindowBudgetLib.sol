// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title WindowBudgetLib
/// @notice Per-window budgets as leaky buckets: what was used drains linearly at
/// `budget / window` per second, and a use is allowed while the bucket stays within `budget`.
/// @dev Over any span of T seconds at most `budget * (1 + T / window)` can be used: `budget`
/// per window in steady state, at most twice it in any one window-long span (a full bucket, then
/// what drains back during that span). The README states the bound as "X per day, 2X worst case
/// in any 24 h span".
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
}
