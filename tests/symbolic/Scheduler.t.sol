// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RebalanceScheduler} from "../../contracts/automation/RebalanceScheduler.sol";
import {RecurringTask} from "../../contracts/automation/RecurringTask.sol";
import {IRebalanceScheduler} from "../../contracts/interfaces/IRebalanceScheduler.sol";
import {IRecurringTask} from "../../contracts/interfaces/IRecurringTask.sol";
import {SymStorage, SymTest} from "./Cheats.sol";

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

/// @notice The scheduler's escrow (the real RebalanceScheduler), for every booking time, effort,
/// fee paid and time of the operation (halmos). The property, stated by
/// `_escrowBooksHold`: every wei prepaid for a run is exactly one of owed or paid to the executor
/// of an executed run (its fee less the protocol's share booked with it: credited, then
/// withdrawn or not), refunded to the payer of a canceled run, kept as protocol fees (tallied at
/// booking, held or withdrawn), or held for a run still scheduled; and the scheduler's balance is
/// what its books say it holds: credits + the scheduled runs' executor parts + the protocol's
/// tally (so every scheduled run and every credit can be paid and no withdrawal takes
/// another's).
/// @dev How the proofs compose (issue 68: the one proof stating all of it together ran past
/// 67 minutes unfinished). Two runs are booked at any times (Low and Medium priority, efforts up
/// to 2M gas so that both fit one slot, any fee paid up to 10 ether), then one operation at any
/// later time; one proof per operation, each over both runs where it names one:
/// `check_escrow_after_execute_one` (either run, its handler failing or not),
/// `check_escrow_after_execute_batch` (both ids, each due or not, failing or not) and
/// `check_escrow_after_cancel` (either run). A reverted operation leaves the books as they were
/// after the bookings, so each of them also proves the books after the bookings alone. The two
/// withdrawals are lemmas in `SchedulerWithdrawalProofs` over ANY prior state (symbolic storage):
/// each moves exactly its tally (the protocol's, or the caller's credit) out of the scheduler's
/// balance to its recipient, zeroes that tally and leaves every other book unchanged (the other
/// tally, other executors' credits, the runs). `protocol_withdrawal_keeps_escrow_books` and
/// `credit_withdrawal_keeps_escrow_books` in tests/symbolic/arithmetic_lemmas.py prove that such
/// a move keeps the equations of `_escrowBooksHold` (integers, z3). Together: after two
/// bookings, any one operation, then any protocol-fee and credit withdrawals (in any order, any
/// number of times), the escrow's equations hold: what the single proof stated.
/// Why the parts finish (each about 30 s of solving on 2 cores at load 8): the fee paid is a
/// `uint80` input (`Bookings`), the type the run stores it in (the same fees as before: any up to
/// 10 ether). Typed `uint256`, the execute part took 273 s, 164 s of it in the assertion
/// queries (256-bit divisions by 10,000 of the `msg.value` the booking split its share from and
/// of the fee read back from the run, which the solver had to prove equal); typed `uint80`, the
/// two are one term and no assertion query reaches the external solver.
/// Assumed (as before): the deployed fee rate, refund share and slot capacities (a symbolic
/// refund share makes `fee * refundBps` non-linear); two runs and one operation (two operations
/// after two bookings ran past 15 minutes); longer sequences are sampled by the automation
/// invariant suite (tests/invariant/Automation.t.sol, `invariant_schedulerFeeEscrow`).
contract SchedulerEscrowSlowProofs is SymTest {
    RebalanceScheduler internal sched;
    TestBookingHandler internal handler;
    uint256 internal handlerStart;
    uint256 internal executorStart;

    function setUp() public {
        sched = new RebalanceScheduler(address(this), 60, 1 gwei, 1_000);
        handler = new TestBookingHandler(sched);
        vm.deal(address(handler), 1_000 ether);
    }

    receive() external payable {}

    function _book(uint256 ts, uint8 p, uint256 effort, uint80 value) internal {
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

    /// @dev The inputs of each escrow proof: two bookings (their times, efforts and fees paid)
    /// and the time of the operation after them.
    struct Bookings {
        uint256 ts1;
        uint256 effort1;
        uint80 value1;
        uint256 ts2;
        uint256 effort2;
        uint80 value2;
        uint256 t;
    }

    /// @dev The two bookings, then the clock at any time from now on, the handler failing or not.
    /// @return prepaid What the two bookings paid.
    function _bookTwo(Bookings memory b, bool failing) internal returns (uint256 prepaid) {
        handlerStart = address(handler).balance;
        executorStart = address(this).balance;
        _book(b.ts1, 2, b.effort1, b.value1);
        _book(b.ts2, 1, b.effort2, b.value2);
        handler.setFailing(failing);
        vm.assume(b.t >= block.timestamp);
        vm.warp(b.t);
        return uint256(b.value1) + b.value2;
    }

    /// @dev Run `id`'s fee under its status: (scheduled, executed, canceled).
    function _books(uint256 id) internal view returns (uint256, uint256, uint256) {
        IRebalanceScheduler.Run memory r = sched.getRun(id);
        if (r.status == IRebalanceScheduler.Status.Scheduled) return (r.fee, 0, 0);
        if (r.status == IRebalanceScheduler.Status.Executed) return (0, r.fee, 0);
        if (r.status == IRebalanceScheduler.Status.Canceled) return (0, 0, r.fee);
        return (0, 0, 0);
    }

    /// @dev The escrow's equations (the contract's notice states them in words). `withdrawn` is
    /// the protocol's withdrawn tally: none in these proofs (the withdrawal lemmas move it).
    function _escrowBooksHold(uint256 prepaid) internal view {
        uint256 paid = address(this).balance - executorStart;
        uint256 owed = sched.credits(address(this));
        uint256 refunded = address(handler).balance + prepaid - handlerStart;
        uint256 held = address(sched).balance;
        assert(prepaid == paid + refunded + held);
        (uint256 scheduled, uint256 executed, uint256 canceled) = _books(1);
        (uint256 s2, uint256 e2, uint256 c2) = _books(2);
        // the protocol's share (the deployed 20%) of every run, tallied when it was booked
        uint256 keptScheduled = scheduled * 2_000 / 10_000 + s2 * 2_000 / 10_000;
        uint256 keptExecuted = executed * 2_000 / 10_000 + e2 * 2_000 / 10_000;
        assert(held == owed + (scheduled + s2 - keptScheduled) + sched.protocolFees());
        assert(paid + owed == executed + e2 - keptExecuted);
        assert(refunded + sched.protocolFees() == canceled + c2 + keptScheduled + keptExecuted);
    }

    /// The escrow after an `execute` of either run (due or not, its handler failing or not).
    function check_escrow_after_execute_one(Bookings memory b, bool failing, bool second) public {
        uint256 prepaid = _bookTwo(b, failing);
        (bool ok,) = address(sched).call(abi.encodeCall(RebalanceScheduler.execute, (second ? 2 : 1)));
        ok;
        _escrowBooksHold(prepaid);
    }

    /// The escrow after an `executeBatch` of both runs (each due or not, failing or not).
    function check_escrow_after_execute_batch(Bookings memory b, bool failing) public {
        uint256 prepaid = _bookTwo(b, failing);
        uint256[] memory ids = new uint256[](2);
        (ids[0], ids[1]) = (1, 2);
        (bool ok,) = address(sched).call(abi.encodeCall(RebalanceScheduler.executeBatch, (ids)));
        ok;
        _escrowBooksHold(prepaid);
    }

    /// The escrow after a `cancel` of either run by its handler, at any time.
    function check_escrow_after_cancel(Bookings memory b, bool second) public {
        uint256 prepaid = _bookTwo(b, false);
        (bool ok,) = address(handler).call(abi.encodeCall(TestBookingHandler.cancelRun, (second ? 2 : 1)));
        ok;
        _escrowBooksHold(prepaid);
    }
}

/// @notice The scheduler's two withdrawals over ANY prior state (every storage slot of the real
/// scheduler arbitrary: halmos' symbolic storage; its balance arbitrary): each moves exactly its
/// tally out of the scheduler's balance to its recipient, zeroes that tally, and changes no
/// other book. With the two `*_withdrawal_keeps_escrow_books` lemmas
/// (tests/symbolic/arithmetic_lemmas.py) these
/// carry the escrow equations of SchedulerEscrowSlowProofs across any withdrawals after its
/// operation (its @dev says how the proofs compose).
/// @dev Assumed: nothing about the prior state (it need not even be reachable); the recipients
/// are this harness (it takes any payment) and an address without code.
contract SchedulerWithdrawalProofs is SymTest, SymStorage {
    RebalanceScheduler internal sched;
    address internal constant TREASURY = address(0x7EA5);

    function setUp() public {
        sched = new RebalanceScheduler(address(this), 60, 1 gwei, 1_000);
        svm.enableSymbolicStorage(address(sched));
    }

    receive() external payable {}

    function _run(uint256 id) internal view returns (IRebalanceScheduler.Status, uint80, uint16) {
        IRebalanceScheduler.Run memory r = sched.getRun(id);
        return (r.status, r.fee, r.shareBps);
    }

    /// @dev What both withdrawals are held to: `call` on the scheduler (its balance `balance`)
    /// either goes through and moves exactly `tally` out of the scheduler's balance to
    /// `recipient`, or reverts and moves nothing; run `id` is untouched either way.
    /// @return ok Whether it went through.
    function _movesExactly(uint256 balance, bytes memory call, address recipient, uint256 tally, uint256 id)
        internal
        returns (bool ok)
    {
        uint256 before = recipient.balance;
        (IRebalanceScheduler.Status st, uint80 fee, uint16 share) = _run(id);
        (ok,) = address(sched).call(call);
        if (ok) {
            assert(recipient.balance == before + tally);
            assert(address(sched).balance == balance - tally);
        } else {
            assert(recipient.balance == before && address(sched).balance == balance);
        }
        (IRebalanceScheduler.Status st2, uint80 fee2, uint16 share2) = _run(id);
        assert(st2 == st && fee2 == fee && share2 == share);
    }

    /// withdrawProtocolFees: the treasury gains exactly the protocol's tally, which leaves the
    /// scheduler's balance and is zeroed; the credits and the runs are untouched. Or it reverts
    /// (not the owner, or the balance short of the tally) and nothing moves.
    function check_protocol_withdrawal_moves_exactly_the_tally(uint256 balance, address executor, uint256 id)
        public
    {
        vm.deal(address(sched), balance);
        uint256 fees = sched.protocolFees();
        uint256 credit = sched.credits(executor);
        bytes memory call = abi.encodeCall(RebalanceScheduler.withdrawProtocolFees, (payable(TREASURY)));
        bool ok = _movesExactly(balance, call, TREASURY, fees, id);
        assert(sched.protocolFees() == (ok ? 0 : fees));
        assert(sched.credits(executor) == credit);
    }

    /// withdrawCredit: the caller's recipient gains exactly the caller's credit, which leaves
    /// the scheduler's balance and is zeroed; another executor's credit, the protocol's tally and
    /// the runs are untouched. Or it reverts (no credit, or the balance short of it) and nothing
    /// moves.
    function check_credit_withdrawal_moves_exactly_the_credit(uint256 balance, address other, uint256 id) public {
        vm.assume(other != address(this));
        vm.deal(address(sched), balance);
        uint256 credit = sched.credits(address(this));
        uint256 otherCredit = sched.credits(other);
        uint256 fees = sched.protocolFees();
        bytes memory call = abi.encodeCall(RebalanceScheduler.withdrawCredit, (payable(address(this))));
        bool ok = _movesExactly(balance, call, address(this), credit, id);
        assert(sched.credits(address(this)) == (ok ? 0 : credit));
        assert(sched.credits(other) == otherCredit && sched.protocolFees() == fees);
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


