// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IRebalanceScheduler} from "./IRebalanceScheduler.sol";
import {IScheduledHandler} from "./IScheduledHandler.sol";

/// @title IRecurringTask
/// @notice Something that books itself on the RebalanceScheduler every `interval` (a Rebalancer,
/// the Supervisor). At most one run is booked at a time. Booking the next run never reverts: a
/// failure (funder empty, slot full, scheduler error) emits FailedRecurringSchedule and leaves no
/// run booked, and the permissionless, idempotent fixReschedule() books it later.
///
/// Only its own run (issue 11): executeScheduled acts only on the run id the task booked itself
/// and recorded in its receipt; any other id reverts with ForeignRun (the scheduler catches it
/// and reports HandlerFailed, the task's work is not done and its schedule is untouched). The
/// scheduler already refuses a booking made by anyone but the handler itself, so this is the
/// second of two locks: a task's work (a fund's rebalance) runs only at the times its own config
/// chose, never at a moment an outsider picked (to sandwich it).
interface IRecurringTask is IScheduledHandler {
    /// @notice How and who pays for the recurring runs (Flow's RecurringConfig).
    /// @param interval Seconds between runs (next run = last run + interval, at least now + 1).
    /// @param priority Medium or Low (High is refused: it fails instead of moving when full).
    /// @param executionEffort Gas the scheduler gives each run.
    /// @param estimationMarginBps Fee paid = estimate * margin / 10_000 (10_000 = exactly the
    /// estimate; the excess is a tip to the executor).
    /// @param forceRebalance The bool passed to rebalance(bool force).
    /// @param txFunder The ITxFunder that pays and receives refunds.
    struct RecurringConfig {
        uint64 interval;
        IRebalanceScheduler.Priority priority;
        uint32 executionEffort;
        uint32 estimationMarginBps;
        bool forceRebalance;
        address txFunder;
    }

    /// @notice What fixReschedule did.
    enum FixOutcome {
        AlreadyBooked,
        Booked,
        Failed,
        Destroyed
    }

    event RunBooked(uint256 indexed runId, uint256 timestamp, uint256 feePaid);
    event FailedRecurringSchedule(uint256 timestamp, bytes reason);
    event FixedReschedule(uint256 indexed runId, uint256 timestamp);
    event StaleReceiptCleared(uint256 indexed runId, IRebalanceScheduler.Status status);
    event RecurringConfigSet(RecurringConfig config);
    event RefundReturned(address indexed txFunder, uint256 amount);
    event TaskDestroyed();

    error NotScheduler(address caller);
    /// @notice executeScheduled was called for a run this task did not book (or no longer holds).
    error ForeignRun(uint256 runId, uint256 bookedRunId);
    error InvalidRecurringConfig(string field, uint256 value);
    error TaskIsDestroyed();
    error RefundReturnFailed(address txFunder, uint256 amount);
    /// @dev Reason payload of FailedRecurringSchedule when estimate() reports an error.
    error EstimateRejected(IRebalanceScheduler.ScheduleError code);
    /// @dev Reason payload when the funder reported success but did not send the fee.
    error FunderDidNotPay(uint256 expected, uint256 balance);

    /// @notice Books the next run only when none is booked; clears a stale receipt (a run that
    /// was executed without calling back, e.g. the handler ran out of gas) first. Permissionless;
    /// a second call changes nothing. Costs no fee when a run is booked. Never reverts.
    function fixReschedule() external returns (FixOutcome);

    /// @notice The booked run (0, 0 when none).
    function bookedRun() external view returns (uint256 runId, uint256 timestamp);

    /// @notice Scheduled timestamp of the last executed run (0 before the first).
    function lastRunAt() external view returns (uint256);

    function recurringConfig() external view returns (RecurringConfig memory);
    function scheduler() external view returns (IRebalanceScheduler);
    function destroyed() external view returns (bool);
}
