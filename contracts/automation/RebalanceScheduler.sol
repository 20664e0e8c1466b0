// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IRebalanceScheduler} from "../interfaces/IRebalanceScheduler.sol";
import {IScheduledHandler} from "../interfaces/IScheduledHandler.sol";
import {BpsLib} from "../libraries/BpsLib.sol";
import {ReleaseLib} from "../libraries/ReleaseLib.sol";

/// @title RebalanceScheduler
/// @notice Flow's transaction scheduler as a contract: handlers book runs, keepers execute them.
/// @dev Fee, slot and refund rules are documented on IRebalanceScheduler.
contract RebalanceScheduler is IRebalanceScheduler, Ownable2Step, ReentrancyGuardTransient {
    /// @notice The contract release this code belongs to (ASCII in a bytes32, e.g. "0.2.0"): the
    /// keepers refuse to drive contracts of a release their ABIs do not belong to.
    bytes32 public constant RELEASE = ReleaseLib.RELEASE;

    /* CONSTANTS */

    uint256 public constant BPS = BpsLib.BPS;
    uint256 public constant MAX_SLOT_SEARCH = 32;
    uint256 public constant MAX_DATA_LENGTH = 1024;
    uint256 public constant MAX_REASON_LENGTH = 256;
    uint256 public constant MAX_VIEW_SLOTS = 10_000;
    /// @dev Gas kept back for the work after the handler returns (events, the executor's credit).
    uint256 public constant POST_CALL_RESERVE = 30_000;
    /// @notice Bounds of protocolShareBps: the admin may not make booking capacity free again
    /// (a booker executing its own runs would get its fees back) nor keep most of the executors'
    /// pay.
    uint256 public constant MIN_PROTOCOL_SHARE_BPS = 1_000;
    uint256 public constant MAX_PROTOCOL_SHARE_BPS = 5_000;

    /* STORAGE */

    /// @inheritdoc IRebalanceScheduler
    uint256 public immutable slotSeconds;

    uint256 public baseFeePerEffort;
    uint256 public dataFeePerByte;
    uint256 public minEffort;
    uint256 public maxEffort;
    uint256 public refundBps;
    uint256 public protocolShareBps;
    uint256 public protocolFees;
    uint256 public lookbackSlots;
    uint256 public nextId;
    /// @dev Lowest slot that ever held a run: nextDueRuns never scans below it.
    uint256 public firstSlot;
    /// @inheritdoc IRebalanceScheduler
    mapping(address executor => uint256) public credits;

    uint256[3] internal _capacity;
    mapping(uint256 id => Run) internal _runs;
    mapping(uint256 id => bytes) internal _data;
    mapping(uint256 slot => uint256[3]) internal _used;
    mapping(uint256 slot => uint256[]) internal _slotRuns;
    mapping(address handler => uint256[]) internal _handlerRuns;

    /* CONSTRUCTOR */

    /// @param admin Owner (sets fees, capacities, bounds, refund share).
    /// @param slotSeconds_ Slot length in seconds (fixed: changing it would re-map booked usage).
    /// @param baseFeePerEffort_ Wei per unit of effort before the priority multiplier.
    /// @param dataFeePerByte_ Wei per byte of run data.
    constructor(address admin, uint256 slotSeconds_, uint256 baseFeePerEffort_, uint256 dataFeePerByte_)
        Ownable(admin)
    {
        if (slotSeconds_ == 0) revert InvalidConfig("slotSeconds", 0);
        slotSeconds = slotSeconds_;
        baseFeePerEffort = baseFeePerEffort_;
        dataFeePerByte = dataFeePerByte_;
        minEffort = 10_000;
        maxEffort = 9_999_999;
        refundBps = 5_000;
        protocolShareBps = 2_000;
        lookbackSlots = 2_880;
        nextId = 1;
        firstSlot = type(uint256).max;
        _capacity[uint256(Priority.High)] = 30_000_000;
        _capacity[uint256(Priority.Medium)] = 15_000_000;
        _capacity[uint256(Priority.Low)] = 5_000_000;
    }

    /* BOOKING */

    /// @inheritdoc IRebalanceScheduler
    function schedule(
        address handler,
        bytes calldata data,
        uint256 timestamp,
        Priority priority,
        uint256 executionEffort
    ) external payable returns (uint256 id) {
        if (handler == address(0)) revert ZeroHandler();
        // Only the handler books its own runs: nobody else chooses when its work runs.
        if (handler != msg.sender) revert NotHandlerItself(handler, msg.sender);
        (uint256 fee, uint256 effective, ScheduleError err) = _estimate(data.length, timestamp, priority, executionEffort);
        if (err != ScheduleError.None) revert ScheduleRejected(err);
        if (msg.value < fee) revert FeeTooLow(fee, msg.value);
        if (msg.value > type(uint80).max) revert FeeTooHigh(msg.value);

        id = nextId++;
        uint256 share = protocolShareBps;
        uint256 slot = effective / slotSeconds;
        // Cannot overflow: _estimate checked used + effort <= capacity.
        unchecked {
            _used[slot][uint256(priority)] += executionEffort;
        }
        _runs[id] = Run({
            handler: handler,
            timestamp: uint40(effective),
            effort: uint32(executionEffort),
            priority: priority,
            status: Status.Scheduled,
            hasData: data.length != 0,
            payer: msg.sender,
            fee: uint80(msg.value),
            shareBps: uint16(share)
        });
        // The protocol's share is split off and tallied now, at the rate of the booking: the run
        // holds the executor's part in escrow, and an execution touches no protocol slot.
        protocolFees += msg.value * share / BPS;
        if (data.length != 0) _data[id] = data;
        _slotRuns[slot].push(id);
        _handlerRuns[handler].push(id);
        if (slot < firstSlot) firstSlot = slot;
        emit RunScheduled(id, handler, msg.sender, effective, priority, executionEffort, msg.value);
    }

    /// @inheritdoc IRebalanceScheduler
    function estimate(bytes calldata data, uint256 timestamp, Priority priority, uint256 executionEffort)
        external
        view
        returns (uint256 fee, uint256 effectiveTimestamp, ScheduleError error)
    {
        return _estimate(data.length, timestamp, priority, executionEffort);
    }

    /// @inheritdoc IRebalanceScheduler
    function feeFor(uint256 dataLength, Priority priority, uint256 executionEffort) external view returns (uint256) {
        return _fee(dataLength, priority, executionEffort);
    }

    /* EXECUTION */

    /// @inheritdoc IRebalanceScheduler
    function execute(uint256 id) external {
        Run storage run = _runs[id];
        if (run.status != Status.Scheduled) revert RunNotScheduled(id, run.status);
        if (run.timestamp > block.timestamp) revert RunNotDue(id, run.timestamp, block.timestamp);
        uint256 paid = _execute(id, run);
        if (paid != 0) credits[msg.sender] += paid;
    }

    /// @inheritdoc IRebalanceScheduler
    function executeBatch(uint256[] calldata ids) external returns (uint256 executed) {
        uint256 total;
        for (uint256 i; i < ids.length; ++i) {
            Run storage run = _runs[ids[i]];
            if (run.status != Status.Scheduled || run.timestamp > block.timestamp) continue;
            total += _execute(ids[i], run);
            ++executed;
        }
        if (total != 0) credits[msg.sender] += total;
    }

    /// @inheritdoc IRebalanceScheduler
    function withdrawCredit(address payable to) external nonReentrant returns (uint256 amount) {
        if (to == address(0)) revert ZeroRecipient();
        amount = credits[msg.sender];
        if (amount == 0) revert NoCredit(msg.sender);
        // Zeroed before the transfer (checks-effects-interactions): a recipient that calls back
        // finds nothing owed, and the guard refuses a reentrant withdrawal outright.
        credits[msg.sender] = 0;
        emit CreditWithdrawn(msg.sender, to, amount);
        _pay(to, amount);
    }

    /// @inheritdoc IRebalanceScheduler
    function cancel(uint256 id) external returns (uint256 refund) {
        Run storage run = _runs[id];
        if (run.handler != msg.sender) revert NotRunHandler(id, msg.sender);
        if (run.status != Status.Scheduled) revert RunNotScheduled(id, run.status);
        run.status = Status.Canceled;
        uint256 fee = run.fee;
        // Cannot underflow: the effort was added to this slot when the run was booked.
        unchecked {
            _used[uint256(run.timestamp) / slotSeconds][uint256(run.priority)] -= run.effort;
        }
        // The protocol's share was tallied at booking and stays the protocol's: the refund comes
        // out of the executor's part held in escrow, never above it (a refund share raised after
        // a higher booked share was lowered cannot pay out the protocol's tally).
        uint256 booked = fee * run.shareBps / BPS;
        refund = fee * refundBps / BPS;
        if (refund > fee - booked) refund = fee - booked;
        uint256 kept = fee - refund;
        protocolFees += kept - booked;
        address payer = run.payer;
        emit RunCanceled(id, payer, refund, kept);
        if (refund != 0) _pay(payer, refund);
    }

    /* VIEWS */

    /// @inheritdoc IRebalanceScheduler
    function status(uint256 id) external view returns (Status) {
        return _runs[id].status;
    }

    /// @inheritdoc IRebalanceScheduler
    function getRun(uint256 id) external view returns (Run memory) {
        return _runs[id];
    }

    /// @inheritdoc IRebalanceScheduler
    function runData(uint256 id) external view returns (bytes memory) {
        return _data[id];
    }

    /// @inheritdoc IRebalanceScheduler
    function slotCapacity(Priority priority) external view returns (uint256) {
        return _capacity[uint256(priority)];
    }

    /// @inheritdoc IRebalanceScheduler
    function slotUsage(uint256 slot, Priority priority) external view returns (uint256) {
        return _used[slot][uint256(priority)];
    }

    /// @inheritdoc IRebalanceScheduler
    function nextDueRuns(uint256 maxCount) external view returns (uint256[] memory ids) {
        uint256 current = block.timestamp / slotSeconds;
        if (firstSlot > current) return new uint256[](0);
        uint256 from = current > lookbackSlots ? current - lookbackSlots : 0;
        if (from < firstSlot) from = firstSlot;
        return _collect(from, current, 0, block.timestamp, maxCount);
    }

    /// @inheritdoc IRebalanceScheduler
    function runsDueInRange(uint256 fromTimestamp, uint256 toTimestamp, uint256 maxCount)
        external
        view
        returns (uint256[] memory ids)
    {
        if (toTimestamp < fromTimestamp) return new uint256[](0);
        uint256 fromSlot = fromTimestamp / slotSeconds;
        uint256 toSlot = toTimestamp / slotSeconds;
        if (toSlot - fromSlot >= MAX_VIEW_SLOTS) revert RangeTooWide(toSlot - fromSlot + 1, MAX_VIEW_SLOTS);
        return _collect(fromSlot, toSlot, fromTimestamp, toTimestamp, maxCount);
    }

    /// @inheritdoc IRebalanceScheduler
    function bookedRuns(address handler, uint256 offset, uint256 limit) external view returns (uint256[] memory ids) {
        uint256[] storage all = _handlerRuns[handler];
        uint256 end = offset + limit;
        if (end > all.length) end = all.length;
        ids = new uint256[](end > offset ? end - offset : 0);
        uint256 n;
        for (uint256 i = offset; i < end; ++i) {
            if (_runs[all[i]].status == Status.Scheduled) ids[n++] = all[i];
        }
        _truncate(ids, n);
    }

    /// @inheritdoc IRebalanceScheduler
    function handlerRunCount(address handler) external view returns (uint256) {
        return _handlerRuns[handler].length;
    }

    /* ADMIN */

    /// @inheritdoc IRebalanceScheduler
    function setFees(uint256 baseFeePerEffort_, uint256 dataFeePerByte_) external onlyOwner {
        baseFeePerEffort = baseFeePerEffort_;
        dataFeePerByte = dataFeePerByte_;
        emit FeesSet(baseFeePerEffort_, dataFeePerByte_);
    }

    /// @inheritdoc IRebalanceScheduler
    function setSlotCapacity(Priority priority, uint256 capacity) external onlyOwner {
        if (capacity > type(uint128).max) revert InvalidConfig("capacity", capacity);
        _capacity[uint256(priority)] = capacity;
        emit SlotCapacitySet(priority, capacity);
    }

    /// @inheritdoc IRebalanceScheduler
    function setEffortBounds(uint256 minEffort_, uint256 maxEffort_) external onlyOwner {
        if (minEffort_ == 0) revert InvalidConfig("minEffort", minEffort_);
        if (maxEffort_ < minEffort_ || maxEffort_ > type(uint32).max) revert InvalidConfig("maxEffort", maxEffort_);
        minEffort = minEffort_;
        maxEffort = maxEffort_;
        emit EffortBoundsSet(minEffort_, maxEffort_);
    }

    /// @inheritdoc IRebalanceScheduler
    function setRefundBps(uint256 refundBps_) external onlyOwner {
        // A cancel keeps at least what an execution keeps: booking then cancelling must not be
        // a cheaper way to hold capacity than booking then executing one's own run.
        if (refundBps_ + protocolShareBps > BPS) revert InvalidConfig("refundBps", refundBps_);
        refundBps = refundBps_;
        emit RefundShareSet(refundBps_);
    }

    /// @inheritdoc IRebalanceScheduler
    function setProtocolShareBps(uint256 protocolShareBps_) external onlyOwner {
        if (
            protocolShareBps_ < MIN_PROTOCOL_SHARE_BPS || protocolShareBps_ > MAX_PROTOCOL_SHARE_BPS
                || refundBps + protocolShareBps_ > BPS
        ) revert InvalidConfig("protocolShareBps", protocolShareBps_);
        protocolShareBps = protocolShareBps_;
        emit ProtocolShareSet(protocolShareBps_);
    }

    /// @inheritdoc IRebalanceScheduler
    function setLookbackSlots(uint256 lookbackSlots_) external onlyOwner {
        if (lookbackSlots_ == 0 || lookbackSlots_ >= MAX_VIEW_SLOTS) revert InvalidConfig("lookbackSlots", lookbackSlots_);
        lookbackSlots = lookbackSlots_;
        emit LookbackSet(lookbackSlots_);
    }

    /// @inheritdoc IRebalanceScheduler
    function withdrawProtocolFees(address payable to) external onlyOwner {
        uint256 amount = protocolFees;
        protocolFees = 0;
        emit ProtocolFeesWithdrawn(to, amount);
        _pay(to, amount);
    }

    /* INTERNAL */

    function _fee(uint256 dataLength, Priority priority, uint256 effort) internal view returns (uint256) {
        uint256 multiplier = priority == Priority.High ? 10 : priority == Priority.Medium ? 5 : 2;
        return baseFeePerEffort * effort * multiplier + dataFeePerByte * dataLength;
    }

    function _estimate(uint256 dataLength, uint256 timestamp, Priority priority, uint256 effort)
        internal
        view
        returns (uint256 fee, uint256 effective, ScheduleError err)
    {
        if (effort < minEffort) return (0, 0, ScheduleError.EffortBelowMin);
        if (effort > maxEffort) return (0, 0, ScheduleError.EffortAboveMax);
        if (timestamp <= block.timestamp || timestamp > type(uint40).max) {
            return (0, 0, ScheduleError.TimestampNotInFuture);
        }
        if (dataLength > MAX_DATA_LENGTH) return (0, 0, ScheduleError.DataTooLong);
        fee = _fee(dataLength, priority, effort);
        uint256 cap = _capacity[uint256(priority)];
        uint256 slot = timestamp / slotSeconds;
        if (_used[slot][uint256(priority)] + effort <= cap) return (fee, timestamp, ScheduleError.None);
        if (priority == Priority.High) return (0, 0, ScheduleError.HighSlotFull);
        for (uint256 i = 1; i <= MAX_SLOT_SEARCH; ++i) {
            if (_used[slot + i][uint256(priority)] + effort <= cap) {
                return (fee, (slot + i) * slotSeconds, ScheduleError.None);
            }
        }
        return (0, 0, ScheduleError.NoSlotWithRoom);
    }

    /// @dev Marks the run Executed, then calls its handler with exactly `effort` gas. Returns the
    /// executor's pay: the run's fee less the protocol's share booked with it (the caller credits
    /// it; the share was tallied at booking).
    function _execute(uint256 id, Run storage run) internal returns (uint256 paid) {
        run.status = Status.Executed;
        uint256 effort = run.effort;
        address handler = run.handler;
        bytes memory data = run.hasData ? _data[id] : bytes("");
        bytes memory callData = abi.encodeCall(IScheduledHandler.executeScheduled, (id, data));
        // EIP-150 passes at most 63/64 of the remaining gas: demand enough that the handler gets
        // its full effort, so a keeper cannot make a run fail by sending too little gas. Checked
        // here, after the data is loaded (up to 33 cold reads) and the call encoded, so nothing
        // but the CALL itself stands between the check and the handler; POST_CALL_RESERVE covers
        // the CALL's own cost (cold account access) and the work after it.
        uint256 needed = effort + effort / 63 + POST_CALL_RESERVE;
        uint256 available = gasleft();
        if (available < needed) revert InsufficientGasForEffort(available, needed);
        bool ok;
        uint256 reasonSize;
        assembly ("memory-safe") {
            ok := call(effort, handler, 0, add(callData, 0x20), mload(callData), 0, 0)
            reasonSize := returndatasize()
        }
        uint256 fee = run.fee;
        paid = fee - fee * run.shareBps / BPS;
        emit RunExecuted(id, msg.sender, ok, paid);
        if (!ok) {
            if (reasonSize > MAX_REASON_LENGTH) reasonSize = MAX_REASON_LENGTH;
            bytes memory reason = new bytes(reasonSize);
            assembly ("memory-safe") {
                returndatacopy(add(reason, 0x20), 0, reasonSize)
            }
            emit HandlerFailed(id, reason);
        }
    }

    function _pay(address to, uint256 amount) internal {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert PaymentFailed(to, amount);
    }

    function _collect(uint256 fromSlot, uint256 toSlot, uint256 fromTs, uint256 toTs, uint256 maxCount)
        internal
        view
        returns (uint256[] memory ids)
    {
        ids = new uint256[](maxCount);
        uint256 n;
        for (uint256 s = fromSlot; s <= toSlot && n < maxCount; ++s) {
            uint256[] storage inSlot = _slotRuns[s];
            for (uint256 i; i < inSlot.length && n < maxCount; ++i) {
                Run storage run = _runs[inSlot[i]];
                if (run.status == Status.Scheduled && run.timestamp >= fromTs && run.timestamp <= toTs) {
                    ids[n++] = inSlot[i];
                }
            }
        }
        _truncate(ids, n);
    }

    function _truncate(uint256[] memory ids, uint256 n) internal pure {
        assembly ("memory-safe") {
            mstore(ids, n)
        }
    }
}
