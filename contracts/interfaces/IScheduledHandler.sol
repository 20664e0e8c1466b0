// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IScheduledHandler
/// @notice A contract the RebalanceScheduler calls when one of its booked runs is executed.
interface IScheduledHandler {
    /// @notice Called by the scheduler with exactly the run's execution effort as gas. The run is
    /// already marked Executed when this is called; a revert here is caught and reported by the
    /// scheduler, it never undoes the execution. Only the handler itself can book its runs
    /// (IRebalanceScheduler.schedule), so `id` is a run this handler booked; a handler that
    /// tracks its booking (IRecurringTask) also rejects any other id (defence in depth).
    /// @param id The run being executed.
    /// @param data The bytes given when the run was booked.
    function executeScheduled(uint256 id, bytes calldata data) external;
}
