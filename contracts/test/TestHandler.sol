// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IRebalanceScheduler} from "../interfaces/IRebalanceScheduler.sol";
import {IScheduledHandler} from "../interfaces/IScheduledHandler.sol";

/// @notice Test handler for the scheduler: books and cancels runs, counts executions, and can
/// revert, burn its gas, return-bomb or re-enter the scheduler when executed.
contract TestHandler is IScheduledHandler {
    enum Mode {
        Normal,
        Revert,
        BurnGas,
        ReturnBomb,
        ReenterExecute,
        RecordGas
    }

    error HandlerBroken(uint256 id);

    IRebalanceScheduler public immutable scheduler;
    Mode public mode;
    uint256 public executions;
    uint256 public lastId;
    bytes public lastData;
    uint256 public workLoops;
    uint256 public sink;
    bool public rejectPayments;
    /// @notice gasleft() on entry of the last run executed in RecordGas mode.
    uint256 public lastGas;

    constructor(IRebalanceScheduler scheduler_) {
        scheduler = scheduler_;
    }

    receive() external payable {
        if (rejectPayments) revert HandlerBroken(0);
    }

    function setMode(Mode mode_) external {
        mode = mode_;
    }

    function setWorkLoops(uint256 loops) external {
        workLoops = loops;
    }

    function setRejectPayments(bool reject) external {
        rejectPayments = reject;
    }

    function book(bytes calldata data, uint256 timestamp, IRebalanceScheduler.Priority priority, uint256 effort)
        external
        payable
        returns (uint256)
    {
        return scheduler.schedule{value: msg.value}(address(this), data, timestamp, priority, effort);
    }

    function cancel(uint256 id) external returns (uint256) {
        return scheduler.cancel(id);
    }

    function executeScheduled(uint256 id, bytes calldata data) external {
        uint256 entryGas = gasleft();
        if (mode == Mode.RecordGas) lastGas = entryGas;
        if (mode == Mode.Revert) revert HandlerBroken(id);
        if (mode == Mode.BurnGas) {
            while (true) {}
        }
        if (mode == Mode.ReturnBomb) {
            assembly {
                revert(0, 1000000)
            }
        }
        if (mode == Mode.ReenterExecute) scheduler.execute(id);
        ++executions;
        lastId = id;
        if (data.length != 0) lastData = data;
        _work();
    }

    /// @notice The same work as a run, callable directly to measure the handler's own gas.
    function work() external {
        ++executions;
        lastId = 1;
        _work();
    }

    function _work() internal {
        uint256 acc = sink;
        for (uint256 i; i < workLoops; ++i) {
            acc = uint256(keccak256(abi.encode(acc, i)));
        }
        sink = acc;
    }
}
