// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RebalanceScheduler} from "../../contracts/automation/RebalanceScheduler.sol";
import {RecurringTask} from "../../contracts/automation/RecurringTask.sol";
import {IRebalanceScheduler} from "../../contracts/interfaces/IRebalanceScheduler.sol";
import {IRecurringTask} from "../../contracts/interfaces/IRecurringTask.sol";
import {SymTest} from "./Cheats.sol";

/// @notice Test double of a handler: books its own runs (the scheduler takes bookings only from
/// the handler itself), cancels them, and fails its runs when told to.
contract TestBookingHandler {
    RebalanceScheduler internal immutable s;
    bool public failing;

    constructor(RebalanceScheduler s_) {
        s = s_;
    }

    receive() external payable {}

    function book(uint256 ts, IRebalanceScheduler.Priority p, uint256 effort, uint256 value)
        external
        returns (uint256)
    {
        return s.schedule{value: value}(address(this), "", ts, p, effort);
    }

    function cancelRun(uint256 id) external returns (uint256) {
        return s.cancel(id);
    }

    function setFailing(bool f) external {
        failing = f;
    }

    function executeScheduled(uint256, bytes calldata) external view {
        require(!failing, "handler fails");
    }
}

/// @notice Test double of the TxFunder: pays what a task asks while it has it, takes refunds.
contract TestPayingFunder {
    receive() external payable {}

    function withdrawFee(uint256 amount) external {
        (bool ok,) = msg.sender.call{value: amount}("");
        require(ok, "funder cannot pay");
    }

    function refund() external payable {}

    function drain(address payable to) external {
        to.transfer(address(this).balance);
    }
}

/// @notice The smallest concrete RecurringTask (the Rebalancer's and the Supervisor's booking
/// logic), whose work reverts when told to: the run is then spent (Executed, its handler call
/// failed) while the task still holds its receipt, the stuck state fixReschedule exists for.
contract TestTask is RecurringTask {
    bool public failing;

    constructor(IRebalanceScheduler s, RecurringConfig memory c) RecurringTask(s, c) {}

    function setFailing(bool f) external {
        failing = f;
    }

    function _onRun(uint256) internal view override {
        require(!failing, "work reverts");
    }
}

/// @notice Proofs over the RebalanceScheduler's escrow and the RecurringTask's fixReschedule
/// (the real contracts), for every booking time, priority, effort, fee paid, timestamp and order
/// of operations (halmos).
/// @dev Where the proofs stop: two runs booked at any times (Low and Medium priority, efforts up
/// to 2M gas so that both fit one slot, any fee paid up to 10 ether), then one operation at any
/// later time (an execute or a cancel of either run, or a batch execute of both; the handler's
/// run failing or not), then a protocol-fee withdrawal or not. Two operations after two bookings
/// ran past 15 minutes (9,400 solver queries); the invariant suite (tests/invariant/
/// Automation.t.sol) samples longer sequences. The fee rate, the refund share and the slot
/// capacities are the deployed defaults (a symbolic refund share makes `fee * refundBps`
/// non-linear). About 90 s: in `make prove`, not in the fast set.
contract SchedulerEscrowSlowProofs is SymTest {
    RebalanceScheduler internal sched;
    TestBookingHandler internal handler;
    address internal constant TREASURY = address(0x7EA5);

    function setUp() public {
        sched = new RebalanceScheduler(address(this), 60, 1 gwei, 1_000);
        handler = new TestBookingHandler(sched);
        vm.deal(address(handler), 1_000 ether);
    }

    receive() external payable {}

    function _op(uint8 op) internal {
        uint256 id = 1 + (op >> 4) % 2;
        uint8 kind = op % 4;
        if (kind == 0) {
            (bool ok,) = address(sched).call(abi.encodeCall(RebalanceScheduler.execute, (id)));
            ok;
        } else if (kind == 1) {
            uint256[] memory ids = new uint256[](2);
            (ids[0], ids[1]) = (1, 2);
            (bool ok,) = address(sched).call(abi.encodeCall(RebalanceScheduler.executeBatch, (ids)));
            ok;
        } else if (kind == 2) {
            (bool ok,) = address(handler).call(abi.encodeCall(TestBookingHandler.cancelRun, (id)));
            ok;
        } else {
            (bool ok,) = address(sched).call(abi.encodeCall(RebalanceScheduler.withdrawProtocolFees, (payable(TREASURY))));
            ok;
        }
    }

    function _book(uint256 ts, uint8 p, uint256 effort, uint256 value) internal {
        // efforts that fit one slot together (a full slot's search for the next one is a loop
        // halmos would cut; it decides where a run goes, not what is paid)
        vm.assume(value <= 10 ether && effort <= 2_000_000);
        // one literal priority per branch: halmos needs concrete storage slots (the capacities)
        IRebalanceScheduler.Priority prio = IRebalanceScheduler.Priority.Low;
        if (p == 0) prio = IRebalanceScheduler.Priority.High;
        else if (p == 1) prio = IRebalanceScheduler.Priority.Medium;
        (bool ok,) = address(handler).call(abi.encodeCall(TestBookingHandler.book, (ts, prio, effort, value)));
        vm.assume(ok);
    }

    /// @dev Run `id`'s fee under its status: (scheduled, executed, canceled).
    function _books(uint256 id) internal view returns (uint256, uint256, uint256) {
        IRebalanceScheduler.Run memory r = sched.getRun(id);
        if (r.status == IRebalanceScheduler.Status.Scheduled) return (r.fee, 0, 0);
        if (r.status == IRebalanceScheduler.Status.Executed) return (0, r.fee, 0);
        if (r.status == IRebalanceScheduler.Status.Canceled) return (0, 0, r.fee);
        return (0, 0, 0);
    }

    /// Every wei prepaid for a run is exactly one of: owed to the executor of an executed run
    /// (its fee less the protocol's share booked with it: credited, then withdrawn or not),
    /// refunded to the payer of a canceled run, kept as protocol fees (tallied at booking, held or
    /// withdrawn), or held for a run still scheduled; and the scheduler's balance is what its
    /// books say it holds: credits + the scheduled runs' executor parts + the protocol's tally
    /// (so every scheduled run and every credit can be paid and no withdrawal takes another's).
    function check_escrow_prepaid_is_paid_refunded_or_held(
        uint256 ts1,
        uint256 effort1,
        uint256 value1,
        uint256 ts2,
        uint256 effort2,
        uint256 value2,
        uint256 t,
        bool failing,
        uint8 op,
        bool withdraw,
        bool collect
    ) public {
        uint256 handlerStart = address(handler).balance;
        uint256 executorStart = address(this).balance;
        _book(ts1, 2, effort1, value1);
        _book(ts2, 1, effort2, value2);
        handler.setFailing(failing);
        vm.assume(t >= block.timestamp);
        vm.warp(t);
        _op(op);
        if (withdraw) _op(3);
        if (collect) {
            (bool ok,) = address(sched).call(abi.encodeCall(RebalanceScheduler.withdrawCredit, (payable(address(this)))));
            ok;
        }

        uint256 prepaid = value1 + value2;
        uint256 paid = address(this).balance - executorStart;
        uint256 owed = sched.credits(address(this));
        uint256 refunded = address(handler).balance + prepaid - handlerStart;
        uint256 withdrawn = TREASURY.balance;
        uint256 held = address(sched).balance;
        assert(prepaid == paid + refunded + withdrawn + held);
        (uint256 scheduled, uint256 executed, uint256 canceled) = _books(1);
        (uint256 s2, uint256 e2, uint256 c2) = _books(2);
        // the protocol's share (the deployed 20%) of every run, tallied when it was booked
        uint256 keptScheduled = scheduled * 2_000 / 10_000 + s2 * 2_000 / 10_000;
        uint256 keptExecuted = executed * 2_000 / 10_000 + e2 * 2_000 / 10_000;
        assert(held == owed + (scheduled + s2 - keptScheduled) + sched.protocolFees());
        assert(paid + owed == executed + e2 - keptExecuted);
        assert(refunded + withdrawn + sched.protocolFees() == canceled + c2 + keptScheduled + keptExecuted);
    }
}

/// @notice fixReschedule is idempotent: a second call right after the first changes nothing and
/// books nothing more, whatever happened before (a booked run executed or not, the handler's
/// run failed or not, the funder able to pay or not, any time).
contract RecurringTaskProofs is SymTest {
    RebalanceScheduler internal sched;
    TestPayingFunder internal funder;
    TestTask internal task;

    function setUp() public {
        sched = new RebalanceScheduler(address(this), 60, 1 gwei, 1_000);
        funder = new TestPayingFunder();
        vm.deal(address(funder), 100 ether);
        task = new TestTask(
            sched,
            IRecurringTask.RecurringConfig({
                interval: 1 days,
                priority: IRebalanceScheduler.Priority.Medium,
                executionEffort: 300_000,
                estimationMarginBps: 12_000,
                forceRebalance: false,
                txFunder: address(funder)
            })
        );
    }

    receive() external payable {}

    function _state() internal view returns (bytes32) {
        (uint256 runId, uint256 runAt) = task.bookedRun();
        return keccak256(
            abi.encode(
                runId,
                runAt,
                task.lastRunAt(),
                sched.nextId(),
                address(task).balance,
                address(funder).balance,
                address(sched).balance
            )
        );
    }

    function check_fix_reschedule_twice_equals_once(uint256 t1, bool execute, bool workFails, bool broke, uint256 t2)
        public
    {
        task.fixReschedule(); // the first booking
        vm.assume(t1 >= block.timestamp && t1 < 2 ** 39);
        vm.warp(t1);
        task.setFailing(workFails);
        if (execute) {
            (uint256 id,) = task.bookedRun();
            (bool ok,) = address(sched).call(abi.encodeCall(RebalanceScheduler.execute, (id)));
            ok;
        }
        if (broke) funder.drain(payable(address(0xDEAD)));
        vm.assume(t2 >= t1 && t2 < 2 ** 39);
        vm.warp(t2);

        IRecurringTask.FixOutcome first = task.fixReschedule();
        bytes32 once = _state();
        IRecurringTask.FixOutcome second = task.fixReschedule();
        assert(_state() == once);
        if (first != IRecurringTask.FixOutcome.Failed) assert(second == IRecurringTask.FixOutcome.AlreadyBooked);
        else assert(second == IRecurringTask.FixOutcome.Failed);
        // never stuck: after a fix that did not fail, a run is booked and still scheduled
        if (first != IRecurringTask.FixOutcome.Failed) {
            (uint256 id,) = task.bookedRun();
            assert(id != 0 && sched.status(id) == IRebalanceScheduler.Status.Scheduled);
        }
    }
}


