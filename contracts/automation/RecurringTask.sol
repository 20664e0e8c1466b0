// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IRebalanceScheduler} from "../interfaces/IRebalanceScheduler.sol";
import {IRecurringTask} from "../interfaces/IRecurringTask.sol";
import {ITxFunder} from "../interfaces/ITxFunder.sol";
import {BoundedCallLib} from "../libraries/BoundedCallLib.sol";
import {BpsLib} from "../libraries/BpsLib.sol";

/// @title RecurringTask
/// @notice Shared booking logic of Rebalancer and Supervisor: one booked run at a time, booking
/// never reverts, fixReschedule is idempotent, refunds go back to the funder.
abstract contract RecurringTask is IRecurringTask, ReentrancyGuardTransient {
    /* CONSTANTS */

    uint256 internal constant MAX_MARGIN_BPS = 50_000;
    uint256 internal constant MAX_REASON = 256;
    /// @dev Gas kept back inside a run for booking the next one (estimate, funder, schedule).
    uint256 public constant BOOKING_RESERVE = 250_000;
    /// @dev The smallest executionEffort a config may ask for: the work plus the booking.
    uint256 public constant MIN_TASK_EFFORT = 300_000;
    /// @dev Gas cap for calls into the (possibly user-supplied) funder.
    uint256 internal constant FUNDER_GAS = 100_000;
    /// @notice A run that could not do its work books its retry after interval / RETRY_DIVISOR
    /// (an hour for a daily task), not a whole interval later. Where the task backs off (the
    /// Rebalancer does for every failure but RebalanceHeld), each further retry in a row waits
    /// twice as long as the one before, up to the interval (a daily task failing all day:
    /// retries after 1, 2, 4, 8 and 16 h, then daily), so an outage that lasts (a stale feed, a
    /// pause) costs the funder a few runs a day, not RETRY_DIVISOR. A run that works resets it.
    uint256 public constant RETRY_DIVISOR = 24;
    /// @dev Doublings after which the retry delay is the interval whatever its length
    /// (2**8 > RETRY_DIVISOR); also keeps the shift far from overflowing.
    uint256 internal constant MAX_RETRY_DOUBLINGS = 8;
    /// @dev Transient flag: the run in progress asks for a retry (set by _retrySoon, read and
    /// cleared by the booking in the same transaction).
    bytes32 private constant _RETRY_SLOT = keccak256("ballast.RecurringTask.retry");

    /* STORAGE */

    /// @inheritdoc IRecurringTask
    IRebalanceScheduler public immutable scheduler;

    /// @dev The receipt of the booked run and the task's life flag, in one slot so that a no-op
    /// fixReschedule reads a single word.
    struct Receipt {
        uint64 runId;
        uint40 runAt;
        uint40 lastRunAt;
        bool destroyed;
        uint8 retries; // retries booked in a row (the delay's doublings); 0 after a run that worked
    }

    Receipt internal _receipt;
    RecurringConfig internal _config;

    /* CONSTRUCTOR */

    constructor(IRebalanceScheduler scheduler_, RecurringConfig memory config) {
        scheduler = scheduler_;
        _setConfig(config);
    }

    /// @notice Fees from the funder and refunds from the scheduler land here on their way.
    receive() external payable {}

    /* EXTERNAL */

    /// @inheritdoc IRecurringTask
    function fixReschedule() external returns (FixOutcome) {
        // Hot path (the Supervisor calls this for every item): only this task can cancel its run
        // and a run cannot execute before its time, so a future run is certainly still booked.
        // Read-only, so it needs no reentrancy lock. One raw read of the Receipt word (runId bits
        // 0-63, runAt bits 64-103, destroyed bits 144-151) and a direct return of
        // FixOutcome.AlreadyBooked (0), in assembly: it runs once per supervised item.
        assembly ("memory-safe") {
            let word := sload(_receipt.slot)
            if and(
                and(iszero(iszero(and(word, 0xffffffffffffffff))), lt(timestamp(), and(shr(64, word), 0xffffffffff))),
                iszero(and(shr(144, word), 0xff))
            ) {
                mstore(0x00, 0)
                return(0x00, 0x20)
            }
        }
        return _fixReschedule(_receipt);
    }

    /// @notice Called by the scheduler on the run this task booked: does the task's work, then
    /// books the next run (a failure to book emits FailedRecurringSchedule, never reverts). Any
    /// other run id reverts with ForeignRun: the work runs only on the task's own run.
    function executeScheduled(uint256 id, bytes calldata) external nonReentrant {
        if (msg.sender != address(scheduler)) revert NotScheduler(msg.sender);
        Receipt memory r = _receipt;
        if (r.destroyed) return;
        if (r.runId != id) revert ForeignRun(id, r.runId);
        _receipt.runId = 0;
        _receipt.runAt = 0;
        _receipt.lastRunAt = r.runAt;
        _onRun(id);
        if (_receipt.runId == 0) _bookNext();
    }

    /* VIEWS */

    /// @inheritdoc IRecurringTask
    function bookedRun() external view returns (uint256 runId, uint256 timestamp) {
        return (_receipt.runId, _receipt.runAt);
    }

    /// @inheritdoc IRecurringTask
    function lastRunAt() external view returns (uint256) {
        return _receipt.lastRunAt;
    }

    /// @inheritdoc IRecurringTask
    function recurringConfig() external view returns (RecurringConfig memory) {
        return _config;
    }

    /// @inheritdoc IRecurringTask
    function destroyed() external view returns (bool) {
        return _receipt.destroyed;
    }

    /* INTERNAL */

    function _fixReschedule(Receipt memory r) private nonReentrant returns (FixOutcome) {
        if (r.destroyed) return FixOutcome.Destroyed;
        if (r.runId != 0) {
            if (block.timestamp < r.runAt) return FixOutcome.AlreadyBooked;
            IRebalanceScheduler.Status s = scheduler.status(r.runId);
            if (s == IRebalanceScheduler.Status.Scheduled) return FixOutcome.AlreadyBooked;
            _receipt.runId = 0;
            _receipt.runAt = 0;
            emit StaleReceiptCleared(r.runId, s);
        }
        (bool booked, uint256 runId, uint256 ts) = _bookNext();
        if (!booked) return FixOutcome.Failed;
        emit FixedReschedule(runId, ts);
        return FixOutcome.Booked;
    }

    /// @dev The task's work on a run (rebalance a position, tick the supervisor).
    function _onRun(uint256 runId) internal virtual;

    /// @dev Called by a run that could not do its work: the next run is booked after
    /// interval / RETRY_DIVISOR instead of lastRunAt + interval; with `backOff`, doubled for
    /// each retry in a row booked with it before (up to the interval); without, at the short
    /// delay, the count left as it is.
    function _retrySoon(bool backOff) internal {
        bytes32 slot = _RETRY_SLOT;
        uint256 flag = backOff ? 2 : 1;
        assembly ("memory-safe") {
            tstore(slot, flag)
        }
    }

    function _setConfig(RecurringConfig memory c) internal {
        if (c.interval == 0) revert InvalidRecurringConfig("interval", 0);
        if (c.priority == IRebalanceScheduler.Priority.High) revert InvalidRecurringConfig("priority", 0);
        if (c.executionEffort < MIN_TASK_EFFORT) revert InvalidRecurringConfig("executionEffort", c.executionEffort);
        if (c.estimationMarginBps < BpsLib.BPS || c.estimationMarginBps > MAX_MARGIN_BPS) {
            revert InvalidRecurringConfig("estimationMarginBps", c.estimationMarginBps);
        }
        if (c.txFunder == address(0)) revert InvalidRecurringConfig("txFunder", 0);
        _config = c;
        emit RecurringConfigSet(c);
    }

    /// @dev Books the next run at lastRunAt + interval (at least now + 1), or interval /
    /// RETRY_DIVISOR (x 2**(retries in a row before it), at most the interval, when backing
    /// off) from now after a run that asked for a retry, paying estimate x
    /// margin from the funder. Never reverts: every failure emits FailedRecurringSchedule.
    function _bookNext() internal returns (bool booked, uint256 runId, uint256 ts) {
        RecurringConfig memory c = _config;
        uint256 last = _receipt.lastRunAt;
        bytes32 slot = _RETRY_SLOT;
        uint256 retry; // 0: none, 1: at the short delay, 2: backing off (_retrySoon)
        assembly ("memory-safe") {
            retry := tload(slot)
            tstore(slot, 0)
        }
        if (retry != 0) {
            uint256 n = retry == 2 ? _receipt.retries : 0;
            uint256 delay = n >= MAX_RETRY_DOUBLINGS ? c.interval : (c.interval / RETRY_DIVISOR) << n;
            if (delay > c.interval) delay = c.interval;
            ts = block.timestamp + (delay == 0 ? 1 : delay);
            if (retry == 2 && n < MAX_RETRY_DOUBLINGS) _receipt.retries = uint8(n + 1);
        } else {
            ts = (last == 0 ? block.timestamp : last) + c.interval;
            if (ts <= block.timestamp) ts = block.timestamp + 1;
            if (_receipt.retries != 0) _receipt.retries = 0;
        }

        uint256 fee;
        try scheduler.estimate("", ts, c.priority, c.executionEffort) returns (
            uint256 f, uint256, IRebalanceScheduler.ScheduleError err
        ) {
            if (err != IRebalanceScheduler.ScheduleError.None) {
                emit FailedRecurringSchedule(ts, abi.encodeWithSelector(EstimateRejected.selector, err));
                return (false, 0, ts);
            }
            fee = f;
        } catch (bytes memory reason) {
            emit FailedRecurringSchedule(ts, reason);
            return (false, 0, ts);
        }
        uint256 amount = fee * c.estimationMarginBps / BpsLib.BPS;

        uint256 before = address(this).balance;
        (bool ok, bytes memory ret) = BoundedCallLib.call(
            c.txFunder, FUNDER_GAS, 0, abi.encodeCall(ITxFunder.withdrawFee, (amount)), MAX_REASON
        );
        if (!ok) {
            emit FailedRecurringSchedule(ts, ret);
            return (false, 0, ts);
        }
        if (address(this).balance < before + amount) {
            emit FailedRecurringSchedule(
                ts, abi.encodeWithSelector(FunderDidNotPay.selector, amount, address(this).balance)
            );
            return (false, 0, ts);
        }

        try scheduler.schedule{value: amount}(address(this), "", ts, c.priority, c.executionEffort) returns (
            uint256 id
        ) {
            IRebalanceScheduler.Run memory run = scheduler.getRun(id);
            _receipt.runId = uint64(id);
            _receipt.runAt = run.timestamp;
            emit RunBooked(id, run.timestamp, amount);
            return (true, id, run.timestamp);
        } catch (bytes memory reason) {
            emit FailedRecurringSchedule(ts, reason);
            _returnAll(c.txFunder, false);
            return (false, 0, ts);
        }
    }

    /// @dev Cancels the booked run (if still Scheduled) and returns every wei to `_config`'s
    /// funder, which is the funder that paid for it.
    function _cancelBooked() internal {
        Receipt memory r = _receipt;
        if (r.runId != 0) {
            _receipt.runId = 0;
            _receipt.runAt = 0;
            if (scheduler.status(r.runId) == IRebalanceScheduler.Status.Scheduled) scheduler.cancel(r.runId);
        }
        _returnAll(_config.txFunder, true);
    }

    /// @dev Sends the whole balance to the funder's refund(). When `strict`, a failure reverts
    /// (owner paths); otherwise the wei stay here until the next return.
    function _returnAll(address funder, bool strict) internal {
        uint256 amount = address(this).balance;
        if (amount == 0) return;
        (bool ok,) = BoundedCallLib.call(funder, FUNDER_GAS, amount, abi.encodeCall(ITxFunder.refund, ()), 0);
        if (ok) emit RefundReturned(funder, amount);
        else if (strict) revert RefundReturnFailed(funder, amount);
    }

    function _destroy() internal {
        _cancelBooked();
        _receipt.destroyed = true;
        emit TaskDestroyed();
    }
}
