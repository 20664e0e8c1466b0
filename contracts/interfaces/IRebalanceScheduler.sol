// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IRebalanceScheduler
/// @notice An on-chain scheduler for an EVM chain (a port of Flow's FlowTransactionScheduler):
/// a handler books a run at a timestamp with a priority, an execution effort (gas) and a prepaid
/// fee; once the run is due anyone (a keeper) may execute it and is paid the prepaid fee less
/// the scheduler's share.
///
/// Fee: `fee = baseFeePerEffort * executionEffort * multiplier(priority) + dataFeePerByte *
/// data.length`, multiplier High = 10, Medium = 5, Low = 2. The admin sets both per-unit fees.
/// `schedule` accepts any `msg.value >= fee`; the whole prepaid value is the run's fee (a margin
/// above the estimate is a tip to the executor).
///
/// Slots: time is cut into slots of `slotSeconds`; each slot holds at most `slotCapacity(p)`
/// effort per priority. High gets the slot of its timestamp or fails; Medium and Low move to the
/// start of the next slot with room (searching at most MAX_SLOT_SEARCH slots ahead).
///
/// Money: the scheduler's balance always equals the executors' credits + the executors' parts of
/// the runs still booked + the protocol's tally (`protocolFees`). At booking, `protocolShareBps`
/// of the fee is split off and tallied for the protocol at once, and the rate is stored with the
/// run (`Run.shareBps`): a later change of the rate applies to later bookings only, so neither the
/// admin nor anyone else can change what a booked run pays its executor. On execution the rest of
/// the fee is credited to the executor (`credits`), who withdraws it with `withdrawCredit` (pull
/// payment, as Chainlink Automation's nodes withdraw theirs): an execution sends no value, so an
/// executor that rejects ETH blocks nobody's run. On cancel, `refundBps` of the fee goes back to
/// the payer (never more than the executor's part: the booked share stays the protocol's) and
/// the rest accrues to the protocol (it compensates the slot capacity the run held).
///
/// A market nobody can corner: slot capacity costs its booker at least `protocolShareBps` of the
/// fee whoever executes the run (the booker itself included) and at least as much when it cancels
/// (`refundBps + protocolShareBps <= BPS`, both setters enforce it). Filling a slot's Medium pool
/// so that a 300,000-effort recurring run finds no room costs at least protocolShareBps x
/// (capacity - 300,000) x the Medium fee per effort, whatever the booker does with its runs
/// (without the share, a booker that executes its own runs got every fee back: docs/trust-model.md).
///
/// Who books (issue 11): only the handler itself may book its runs (`msg.sender == handler`, as
/// in Flow, where booking needs the handler's own capability). Before, anyone could book a run
/// for any handler and execute it at once (the prepaid fee came back to the executor), so an
/// outsider chose when a fund's rebalance ran and could sandwich it. Handlers that book through
/// a contract (a RecurringTask) are unaffected; IRecurringTask also ignores runs it did not book.
///
/// Gas: execute checks, at the moment the handler is called (after the run's data is loaded and
/// the call encoded), that the handler will receive its full effort under EIP-150's 63/64 rule
/// plus POST_CALL_RESERVE for what follows; otherwise it reverts and the run stays Scheduled.
interface IRebalanceScheduler {
    /* TYPES */

    enum Priority {
        High,
        Medium,
        Low
    }

    enum Status {
        Unknown,
        Scheduled,
        Executed,
        Canceled
    }

    /// @notice Why a booking would fail; `None` means it would succeed.
    enum ScheduleError {
        None,
        EffortBelowMin,
        EffortAboveMax,
        TimestampNotInFuture,
        DataTooLong,
        HighSlotFull,
        NoSlotWithRoom
    }

    /// @notice A booked run, packed in two storage slots.
    struct Run {
        address handler;
        uint40 timestamp; // effective timestamp (after slot placement)
        uint32 effort;
        Priority priority;
        Status status;
        bool hasData;
        address payer;
        uint80 fee; // the whole prepaid value
        uint16 shareBps; // protocolShareBps at booking: the protocol's part, tallied then
    }

    /* EVENTS */

    event RunScheduled(
        uint256 indexed id,
        address indexed handler,
        address indexed payer,
        uint256 timestamp,
        Priority priority,
        uint256 effort,
        uint256 fee
    );
    event RunExecuted(uint256 indexed id, address indexed executor, bool success, uint256 fee);
    event HandlerFailed(uint256 indexed id, bytes reason);
    event RunCanceled(uint256 indexed id, address indexed payer, uint256 refund, uint256 kept);
    event FeesSet(uint256 baseFeePerEffort, uint256 dataFeePerByte);
    event SlotCapacitySet(Priority indexed priority, uint256 capacity);
    event EffortBoundsSet(uint256 minEffort, uint256 maxEffort);
    event RefundShareSet(uint256 refundBps);
    event ProtocolShareSet(uint256 protocolShareBps);
    event LookbackSet(uint256 lookbackSlots);
    event ProtocolFeesWithdrawn(address indexed to, uint256 amount);
    event CreditWithdrawn(address indexed executor, address indexed to, uint256 amount);

    /* ERRORS */

    error ScheduleRejected(ScheduleError code);
    error FeeTooLow(uint256 required, uint256 paid);
    error FeeTooHigh(uint256 paid);
    error ZeroHandler();
    error NotHandlerItself(address handler, address caller);
    error RunNotScheduled(uint256 id, Status status);
    error RunNotDue(uint256 id, uint256 timestamp, uint256 nowTimestamp);
    error NotRunHandler(uint256 id, address caller);
    error InsufficientGasForEffort(uint256 available, uint256 needed);
    error PaymentFailed(address to, uint256 amount);
    error InvalidConfig(string field, uint256 value);
    error RangeTooWide(uint256 slots, uint256 maxSlots);
    error NoCredit(address executor);
    error ZeroRecipient();

    /* BOOKING */

    /// @notice Books a run. Reverts with ScheduleRejected(code) when `estimate` reports an error
    /// and with FeeTooLow when `msg.value` is below the estimated fee.
    /// @param handler The contract called on execution (IScheduledHandler); it must be the
    /// caller (NotHandlerItself otherwise), and only it may cancel.
    /// @param data Bytes passed to the handler (charged per byte).
    /// @param timestamp Requested time, strictly in the future.
    /// @param priority High (exact slot or fail), Medium or Low (next slot with room).
    /// @param executionEffort Gas the handler receives, within [minEffort, maxEffort].
    /// @return id The run id (ids start at 1).
    function schedule(
        address handler,
        bytes calldata data,
        uint256 timestamp,
        Priority priority,
        uint256 executionEffort
    ) external payable returns (uint256 id);

    /// @notice What `schedule` would charge and where it would place the run.
    /// @return fee The minimum prepaid fee.
    /// @return effectiveTimestamp The requested timestamp, or the start of the later slot a
    /// Medium/Low run moves to (0 when there is an error).
    /// @return error None, or why `schedule` would revert.
    function estimate(bytes calldata data, uint256 timestamp, Priority priority, uint256 executionEffort)
        external
        view
        returns (uint256 fee, uint256 effectiveTimestamp, ScheduleError error);

    /// @notice The fee formula alone (no slot placement).
    function feeFor(uint256 dataLength, Priority priority, uint256 executionEffort) external view returns (uint256);

    /* EXECUTION */

    /// @notice Executes a due run: marks it Executed, calls the handler with exactly its effort as
    /// gas, catches a failure (emits HandlerFailed with at most 256 bytes of reason) and credits
    /// the caller the run's fee less the share booked with it (`fee - fee * shareBps / BPS`;
    /// RunExecuted's `fee` is that credit). Sends no value: the caller withdraws its credit with
    /// `withdrawCredit`. Reverts when the run is not Scheduled, not due, or when the caller did
    /// not leave enough gas for the handler to receive its full effort.
    function execute(uint256 id) external;

    /// @notice Executes every id that is Scheduled and due, skipping the others (keepers race),
    /// and credits the caller the sum of their executors' parts once.
    /// @return executed How many runs were executed.
    function executeBatch(uint256[] calldata ids) external returns (uint256 executed);

    /// @notice Pays the caller's whole credit to `to` and zeroes it first (checks-effects-
    /// interactions, reentrancy-guarded). Only the caller's own credit: nobody withdraws another's.
    /// Reverts NoCredit when nothing is owed, ZeroRecipient for address(0), PaymentFailed when `to`
    /// rejects the value (the credit then stays owed).
    /// @return amount The wei sent, exactly what was owed.
    function withdrawCredit(address payable to) external returns (uint256 amount);

    /// @notice What executions have credited `executor` and it has not withdrawn (wei).
    function credits(address executor) external view returns (uint256);

    /// @notice Cancels a Scheduled run; only the run's handler may. Frees its slot capacity and
    /// sends `refundBps` of its fee to the payer recorded at booking, at most the fee less the
    /// share booked with it (that share was tallied for the protocol at booking).
    /// @return refund The wei sent back to the payer.
    function cancel(uint256 id) external returns (uint256 refund);

    /* VIEWS FOR KEEPERS */

    function status(uint256 id) external view returns (Status);
    function getRun(uint256 id) external view returns (Run memory);
    function runData(uint256 id) external view returns (bytes memory);

    /// @notice Scheduled runs already due, oldest slot first, scanning back `lookbackSlots`.
    function nextDueRuns(uint256 maxCount) external view returns (uint256[] memory ids);

    /// @notice Scheduled runs with effective timestamp in [fromTimestamp, toTimestamp].
    function runsDueInRange(uint256 fromTimestamp, uint256 toTimestamp, uint256 maxCount)
        external
        view
        returns (uint256[] memory ids);

    /// @notice The handler's runs still Scheduled among its booking history [offset, offset+limit).
    function bookedRuns(address handler, uint256 offset, uint256 limit) external view returns (uint256[] memory ids);

    /// @notice How many runs the handler ever booked (for paging `bookedRuns`).
    function handlerRunCount(address handler) external view returns (uint256);

    /// @notice Effort already booked in a slot for a priority.
    function slotUsage(uint256 slot, Priority priority) external view returns (uint256);

    function slotSeconds() external view returns (uint256);
    function slotCapacity(Priority priority) external view returns (uint256);
    function minEffort() external view returns (uint256);
    function maxEffort() external view returns (uint256);
    function baseFeePerEffort() external view returns (uint256);
    function dataFeePerByte() external view returns (uint256);
    function refundBps() external view returns (uint256);
    /// @notice Share of every booked run's fee kept by the scheduler (bps), split off and tallied
    /// at booking and never paid to the executor: what booking capacity costs a booker that
    /// executes its own runs. A change applies to runs booked after it.
    function protocolShareBps() external view returns (uint256);
    function protocolFees() external view returns (uint256);

    /* ADMIN */

    function setFees(uint256 baseFeePerEffort, uint256 dataFeePerByte) external;
    function setSlotCapacity(Priority priority, uint256 capacity) external;
    function setEffortBounds(uint256 minEffort, uint256 maxEffort) external;
    /// @notice Reverts InvalidConfig("refundBps") when `refundBps + protocolShareBps > BPS`.
    function setRefundBps(uint256 refundBps) external;
    /// @notice Within [MIN_PROTOCOL_SHARE_BPS, MAX_PROTOCOL_SHARE_BPS] and with
    /// `refundBps + protocolShareBps <= BPS`; otherwise InvalidConfig("protocolShareBps").
    function setProtocolShareBps(uint256 protocolShareBps) external;
    function setLookbackSlots(uint256 lookbackSlots) external;
    function withdrawProtocolFees(address payable to) external;
}
