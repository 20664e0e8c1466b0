// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {CheatBase, Vm} from "../support/InvariantBase.sol";
import {RebalanceScheduler} from "../../../contracts/automation/RebalanceScheduler.sol";
import {TxFunder} from "../../../contracts/automation/TxFunder.sol";
import {PaidRebalancerRegistry} from "../../../contracts/automation/PaidRebalancerRegistry.sol";
import {Supervisor} from "../../../contracts/automation/Supervisor.sol";
import {Rebalancer} from "../../../contracts/automation/Rebalancer.sol";
import {IRebalanceScheduler} from "../../../contracts/interfaces/IRebalanceScheduler.sol";
import {IRecurringTask} from "../../../contracts/interfaces/IRecurringTask.sol";
import {IRebalancer} from "../../../contracts/interfaces/IRebalancer.sol";
import {ITxFunder} from "../../../contracts/interfaces/ITxFunder.sol";
import {TestPosition} from "../../../contracts/test/TestPosition.sol";
import {TestHandler} from "../../../contracts/test/TestHandler.sol";
import {BpsLib} from "../../../contracts/libraries/BpsLib.sol";
import {IAssetControllerTypes} from "../../../contracts/interfaces/IAssetControllerTypes.sol";

/// @notice Actors of the automation suite: an attacker (eve) who creates fake positions, books
/// runs for other handlers, calls tasks directly, ticks the supervisor, gifts ETH, breaks the
/// positions she can reach and executes whatever is due; an executor; an authorised creator;
/// position owners (alice, bob) who create and remove; the admin who tops up and raises
/// allowances; and time. Every action's logs are read back (vm.recordLogs) to keep the books
/// the properties check: fees prepaid, paid and refunded, who the funder paid and when, which
/// runs executed and on which run each task did its work.
contract AutomationHandler is CheatBase {

    RebalanceScheduler public immutable scheduler;
    TxFunder public immutable funder;
    PaidRebalancerRegistry public immutable registry;
    Supervisor public immutable supervisor;
    address public immutable admin;
    address public immutable creator;
    address public immutable alice;
    address public immutable bob;
    address public immutable eve;
    address public immutable executor;
    TestHandler public immutable eveHandler;
    uint256 public immutable eveStart;

    // books kept from the logs
    uint256 public prepaid;
    uint256 public paid; // credited to executors
    uint256 public withdrawn; // credits withdrawn
    uint256 public refunded;
    uint256 public eveOut;
    mapping(address => uint256) public feesTo;
    mapping(uint256 id => address) public runHandler;
    mapping(uint256 id => uint256) public executions;
    mapping(uint256 id => uint256) public bookedShare;
    mapping(address task => uint256) public executedRunsOf;
    uint256[] public withdrawAt;
    uint256[] public withdrawAmount;

    // what the handler created
    mapping(address => bool) public legitSpender;
    address[] public tasks;
    mapping(address rebalancer => TestPosition) public positionOf;

    // one failure message per property family (the first failure is kept)
    string public brokenAuth;
    string public brokenRun;
    string public brokenFix;
    string public brokenExec;
    string public brokenReserve;
    string public brokenRetry;
    mapping(bytes32 => uint256) public calls;

    // the funder's bucket split in two, each draining like the funder's: fees to spenders the
    // admin did not reserve (paid positions) and to the reserved ones (the fund's rebalancer, the
    // supervisor)
    uint256 public unreservedSpent;
    uint256 public unreservedAt;
    uint256 public reservedSpent;
    uint256 public reservedAt;
    /// @dev Rounding of the funder's drain (a wei per fee at most), far below any fee.
    uint256 internal constant BUCKET_TOLERANCE = 1e6;

    // the retry rule, followed per task through the logs: a run that failed (and whether with
    // RebalanceHeld) or worked, waiting for its booking; whether the last retry was at the short
    // delay while backing off
    mapping(address => bool) internal _pendingFail;
    mapping(address => bool) internal _failHeld;
    mapping(address => bool) internal _pendingOk;
    mapping(address => bool) internal _prevShort;
    uint256 public shortRetriesOfTrustedHeld;

    constructor(
        RebalanceScheduler scheduler_,
        TxFunder funder_,
        PaidRebalancerRegistry registry_,
        Supervisor supervisor_,
        address admin_,
        address creator_,
        address alice_,
        address bob_,
        address eve_,
        address executor_
    ) {
        scheduler = scheduler_;
        funder = funder_;
        registry = registry_;
        supervisor = supervisor_;
        admin = admin_;
        creator = creator_;
        alice = alice_;
        bob = bob_;
        eve = eve_;
        executor = executor_;
        eveHandler = new TestHandler(scheduler_);
        vm.deal(eve_, 1_000 ether);
        eveStart = 1_000 ether;
        // what setUp booked: every run is still Scheduled, its fee in the scheduler
        prepaid = address(scheduler_).balance;
        for (uint256 id = 1; id < scheduler_.nextId(); ++id) {
            runHandler[id] = scheduler_.getRun(id).handler;
            bookedShare[id] = scheduler_.protocolShareBps(); // setUp's bookings, at its rate
        }
        legitSpender[address(supervisor_)] = true;
        tasks.push(address(supervisor_));
        for (uint256 id = 1; id < registry_.nextId(); ++id) {
            address r = registry_.rebalancerOf(id);
            if (r != address(0)) {
                legitSpender[r] = true;
                tasks.push(r);
                positionOf[r] = TestPosition(address(Rebalancer(payable(r)).position()));
            }
        }
    }

    receive() external payable {}

    /* VIEWS FOR THE SUITE */

    function taskCount() external view returns (uint256) {
        return tasks.length;
    }

    /// @dev What the funder paid out, and when (the suite's day-long spans).
    function withdrawLog() external view returns (uint256[] memory, uint256[] memory) {
        return (withdrawAt, withdrawAmount);
    }

    /* ACTIONS */

    /// @notice Time passes (30 s to 36 h).
    function passTime(uint256 secs) external {
        vm.warp(block.timestamp + bound(secs, 30, 36 hours));
        ++calls["passTime"];
    }

    /// @notice The executor or eve executes everything due (executeBatch over nextDueRuns).
    function executeDue(uint256 actorSeed) external {
        address actor = actorSeed % 2 == 0 ? executor : eve;
        uint256[] memory ids = scheduler.nextDueRuns(50);
        uint256 before = actor.balance;
        uint256 credit = scheduler.credits(actor);
        vm.recordLogs();
        vm.prank(actor);
        scheduler.executeBatch(ids);
        uint256 earned = _drain();
        // paid by credit (issue 68): nothing sent, the credit grows by exactly the pay
        if (actor.balance != before || scheduler.credits(actor) != credit + earned) {
            _latch(brokenExec, "executor not credited exactly the fees of the runs it executed");
        }
        ++calls["executeDue"];
    }

    /// @notice Eve executes one run of her choice, due or not.
    function eveExecutes(uint256 idSeed) external {
        uint256 id = bound(idSeed, 1, scheduler.nextId());
        uint256 before = eve.balance;
        uint256 credit = scheduler.credits(eve);
        vm.recordLogs();
        vm.prank(eve);
        try scheduler.execute(id) {} catch {}
        uint256 earned = _drain();
        if (eve.balance != before || scheduler.credits(eve) != credit + earned) {
            _latch(brokenExec, "eve's credit moved by other than the fee of the run she executed");
        }
        ++calls["eveExecutes"];
    }

    /// @notice The executor or eve withdraws its credit to itself, then tries again; eve also
    /// tries to withdraw while the executor is owed (she can only take her own).
    function withdrawCredit(uint256 actorSeed) external {
        address actor = actorSeed % 2 == 0 ? executor : eve;
        uint256 owed = scheduler.credits(actor);
        uint256 other = scheduler.credits(actor == eve ? executor : eve);
        uint256 before = actor.balance;
        vm.prank(actor);
        try scheduler.withdrawCredit(payable(actor)) returns (uint256 amount) {
            if (owed == 0 || amount != owed || actor.balance != before + owed) {
                _latch(brokenExec, "a withdrawal paid other than exactly what was owed");
            }
            withdrawn += amount;
        } catch {
            if (owed != 0) _latch(brokenExec, "an executor owed a credit could not withdraw it");
        }
        vm.prank(actor);
        try scheduler.withdrawCredit(payable(actor)) {
            _latch(brokenExec, "a credit was withdrawn twice");
        } catch {}
        if (scheduler.credits(actor) != 0) _latch(brokenExec, "a withdrawal left a credit owed");
        if (scheduler.credits(actor == eve ? executor : eve) != other) _latch(brokenExec, "a withdrawal moved another's credit");
        ++calls["withdrawCredit"];
    }

    /// @notice The admin changes the protocol's share (within its bounds): runs booked before
    /// keep the share they were booked with.
    function adminSetsShare(uint256 bps) external {
        bps = bound(bps, scheduler.MIN_PROTOCOL_SHARE_BPS(), scheduler.MAX_PROTOCOL_SHARE_BPS());
        if (bps + scheduler.refundBps() > BpsLib.BPS) return;
        vm.prank(admin);
        scheduler.setProtocolShareBps(bps);
        ++calls["adminSetsShare"];
    }

    /// @notice Eve deploys a position she owns and tries every way to get a paid rebalancer for
    /// it (or for bob's allow-listed one), and to put an item on the supervisor.
    function eveCreates(uint256 seed) external {
        TestPosition fake = new TestPosition(eve);
        vm.recordLogs();
        vm.startPrank(eve);
        _refused(address(registry), abi.encodeCall(registry.createPaidRebalancer, (address(fake))),
            "eve created a paid rebalancer for her own position");
        _refused(address(registry), abi.encodeCall(registry.createPaidRebalancerFor, (address(fake), eve)),
            "eve created a paid rebalancer through createPaidRebalancerFor");
        uint256 n = registry.nextId();
        uint256 id = bound(seed, 1, n);
        address p = registry.paidRebalancer(id).position;
        if (p != address(0)) {
            _refused(address(registry), abi.encodeCall(registry.createPaidRebalancer, (p)),
                "eve created a paid rebalancer for someone else's position");
        }
        _refused(address(supervisor), abi.encodeCall(supervisor.addPaidRebalancer, (id)),
            "eve added an item to the supervisor");
        _refused(address(supervisor), abi.encodeCall(supervisor.removePaidRebalancer, (id)),
            "eve removed an item from the supervisor");
        vm.stopPrank();
        _drain();
        ++calls["eveCreates"];
    }

    /// @notice Eve books a run for a task (the fund's rebalancer, the supervisor), paying the fee
    /// herself, to choose when its work runs.
    function eveBooksForeign(uint256 taskSeed, uint256 delay) external {
        address task = tasks[taskSeed % tasks.length];
        uint256 effort = 400_000;
        uint256 fee = scheduler.feeFor(0, IRebalanceScheduler.Priority.Medium, effort);
        vm.recordLogs();
        vm.prank(eve);
        try scheduler.schedule{value: fee}(
            task, "", block.timestamp + bound(delay, 1, 1 days), IRebalanceScheduler.Priority.Medium, effort
        ) {
            _latch(brokenRun, "eve booked a run for a task");
            eveOut += fee;
        } catch {}
        _drain();
        ++calls["eveBooksForeign"];
    }

    /// @notice Eve books runs for her own handler (allowed: she pays), which re-enters the
    /// scheduler when it runs, or fills a slot.
    function eveBooksOwn(uint256 seed, uint256 delay, uint256 effortSeed) external {
        eveHandler.setMode(seed % 2 == 0 ? TestHandler.Mode.ReenterExecute : TestHandler.Mode.Normal);
        IRebalanceScheduler.Priority pr = IRebalanceScheduler.Priority(bound(seed >> 1, 1, 2));
        uint256 effort = bound(effortSeed, 10_000, 2_000_000);
        uint256 fee = scheduler.feeFor(0, pr, effort);
        vm.recordLogs();
        vm.prank(eve);
        try eveHandler.book{value: fee}("", block.timestamp + bound(delay, 1, 2 hours), pr, effort) {
            eveOut += fee;
        } catch {}
        _drain();
        ++calls["eveBooksOwn"];
    }

    /// @notice Eve calls a task's executeScheduled herself, with a run id of her choice.
    function eveCallsTask(uint256 taskSeed, uint256 idSeed) external {
        address task = tasks[taskSeed % tasks.length];
        uint256 id = bound(idSeed, 0, scheduler.nextId());
        vm.recordLogs();
        vm.prank(eve);
        try IRecurringTask(task).executeScheduled(id, "") {
            _latch(brokenRun, "eve ran a task's executeScheduled");
        } catch {}
        _drain();
        ++calls["eveCallsTask"];
    }

    /// @notice fixReschedule (on the task or through the registry) twice in a row, by eve or
    /// the executor: the second call changes nothing; a live task whose funder can pay gets
    /// booked.
    function fixTwice(uint256 taskSeed, uint256 actorSeed) external {
        address task = tasks[taskSeed % tasks.length];
        address actor = actorSeed % 2 == 0 ? executor : eve;
        bool viaRegistry = (actorSeed >> 1) % 2 == 1 && task != address(supervisor);
        uint256 regId = viaRegistry ? _registryId(task) : 0;
        vm.recordLogs();
        IRecurringTask.FixOutcome first = _fix(task, actor, regId);
        _drain();
        if (first == IRecurringTask.FixOutcome.Failed) _checkCouldNotPay(task);
        (uint256 runId, uint256 runAt) = IRecurringTask(task).bookedRun();
        uint256 nextId = scheduler.nextId();
        uint256 funderBalance = address(funder).balance;
        uint256 spent = funder.spentInWindow();
        uint256 taskBalance = task.balance;
        vm.recordLogs();
        IRecurringTask.FixOutcome second = _fix(task, actor, regId);
        _drain();
        (uint256 runId2, uint256 runAt2) = IRecurringTask(task).bookedRun();
        if (first == IRecurringTask.FixOutcome.Booked || first == IRecurringTask.FixOutcome.AlreadyBooked) {
            if (second != IRecurringTask.FixOutcome.AlreadyBooked) _latch(brokenFix, "second fixReschedule did not answer AlreadyBooked");
        }
        if (
            runId2 != runId || runAt2 != runAt || scheduler.nextId() != nextId || address(funder).balance != funderBalance
                || funder.spentInWindow() != spent || task.balance != taskBalance
        ) _latch(brokenFix, "a second fixReschedule changed state");
        ++calls["fixTwice"];
    }

    /// @notice Anyone ticks the supervisor.
    function eveTicks(uint256 n) external {
        vm.recordLogs();
        vm.prank(eve);
        try supervisor.tick(bound(n, 1, 20)) {} catch {}
        _drain();
        ++calls["eveTicks"];
    }

    /// @notice Eve sends ETH to the funder (receive or refund) or to a task.
    function eveGifts(uint256 where, uint256 amount) external {
        amount = bound(amount, 1, 1 ether);
        vm.recordLogs();
        vm.startPrank(eve);
        uint256 w = where % 3;
        bool ok;
        if (w == 0) (ok,) = address(funder).call{value: amount}("");
        else if (w == 1) (ok,) = address(funder).call{value: amount}(abi.encodeCall(ITxFunder.refund, ()));
        else (ok,) = tasks[(where / 3) % tasks.length].call{value: amount}("");
        vm.stopPrank();
        if (ok) eveOut += amount;
        _drain();
        ++calls["eveGifts"];
    }

    /// @notice Eve tries the funder's and the registry's privileged paths, cancels a task's
    /// run, and re-configures a task.
    function eveTriesPrivileged(uint256 which, uint256 amount) external {
        amount = bound(amount, 1, 1 ether);
        address task = tasks[which % tasks.length];
        (uint256 runId,) = IRecurringTask(task).bookedRun();
        vm.recordLogs();
        vm.startPrank(eve);
        _refused(address(funder), abi.encodeCall(funder.withdrawFee, (amount)), "eve withdrew a fee from the funder");
        _refused(address(funder), abi.encodeCall(funder.approveSpender, (eve, amount)),
            "eve approved a spender on the funder");
        _refused(address(registry), abi.encodeCall(registry.setRebalancerAllowance, (bound(which, 1, registry.nextId()), amount)),
            "eve set a rebalancer's allowance");
        _refused(address(registry), abi.encodeCall(registry.setCreator, (eve, true)), "eve made herself a creator");
        _refused(address(registry), abi.encodeCall(registry.setPositionAllowed, (address(0xBAD), true)),
            "eve allow-listed a position");
        _refused(address(registry), abi.encodeCall(registry.setTrustedTarget, (bound(which, 1, registry.nextId()), true)),
            "eve made a paid rebalancer believe its target");
        _refused(task, abi.encodeCall(Rebalancer.setTrustedTarget, (true)), "eve made a task believe its target");
        _refused(address(funder), abi.encodeCall(funder.setReservedSpender, (task, true)), "eve reserved a spender");
        _refused(address(funder), abi.encodeCall(funder.setReserve, (amount % 2 == 0 ? 0 : funder.spendCapPerWindow())),
            "eve set the funder's reserve");
        if (runId != 0) {
            try scheduler.cancel(runId) {
                _latch(brokenRun, "eve cancelled a task's run");
            } catch {}
        }
        _refused(task, abi.encodeCall(Rebalancer.destroy, ()), "eve destroyed a task");
        vm.stopPrank();
        _drain();
        ++calls["eveTriesPrivileged"];
    }

    /// @notice Eve breaks (or mends) a position (TestPosition's mode is open to anyone): a
    /// reverting, gas-burning, return-bombing, held (RebalanceHeld) or "moved, still off target"
    /// position must not stop its schedule, and its retries stay between interval / 24 and the
    /// interval (_checkRetry).
    function eveBreaksPosition(uint256 which, uint256 mode) external {
        (, TestPosition p) = _taskAndPosition(which);
        if (address(p) == address(0)) return;
        p.setMode(TestPosition.Mode(mode % 6));
        ++calls["eveBreaksPosition"];
    }

    /// @notice Eve breaks a position and the executor runs its rebalancer's booked run, as soon
    /// as it is due, up to 8 times in a row: the back-off's whole ladder (five doublings, then
    /// the interval) in one action, which random sequences seldom reach.
    function eveFailsInARow(uint256 which, uint256 modeSeed, uint256 n) external {
        (address task, TestPosition p) = _taskAndPosition(which);
        if (address(p) == address(0)) return;
        p.setMode(TestPosition.Mode(1 + modeSeed % 4)); // Revert, BurnGas, ReturnBomb or Held
        _executeBookedInARow(task, bound(n, 1, 8));
        ++calls["eveFailsInARow"];
    }

    /// @notice A position moves but says "still off target" (the controller's second word) and
    /// the executor runs its rebalancer's booked run as soon as it is due, up to 6 times: only
    /// the fund's (trusted) rebalancer may take that word for an early run.
    function eveSaysOffTarget(uint256 which, uint256 n) external {
        (address task, TestPosition p) = _taskAndPosition(which);
        if (address(p) == address(0)) return;
        p.setMode(TestPosition.Mode.MovedOffTarget);
        _executeBookedInARow(task, bound(n, 1, 6));
        ++calls["eveSaysOffTarget"];
    }

    /// @dev The task `which` picks and its TestPosition (none: address 0).
    function _taskAndPosition(uint256 which) internal view returns (address task, TestPosition p) {
        task = tasks[which % tasks.length];
        p = positionOf[task];
    }

    /// @dev The executor runs `task`'s booked run as soon as it is due, `n` times in a row, or
    /// until the task has none booked (its booking failed: the funder's cap).
    function _executeBookedInARow(address task, uint256 n) internal {
        for (uint256 i; i < n; ++i) {
            (uint256 runId, uint256 ts) = IRecurringTask(task).bookedRun();
            if (runId == 0) break;
            if (ts > block.timestamp) vm.warp(ts);
            vm.recordLogs();
            vm.prank(executor);
            scheduler.execute(runId);
            _drain();
        }
    }

    /// @notice The authorised creator makes a paid rebalancer for alice or bob (caps apply).
    function creatorCreates(uint256 ownerSeed) external {
        address owner_ = ownerSeed % 2 == 0 ? alice : bob;
        TestPosition p = new TestPosition(owner_);
        vm.recordLogs();
        vm.prank(creator);
        try registry.createPaidRebalancerFor(address(p), owner_) returns (uint256 id) {
            _adopt(id, p, owner_);
        } catch {}
        _drain();
        ++calls["creatorCreates"];
    }

    /// @notice The admin allow-lists a position of bob's and bob creates its rebalancer.
    function ownerCreatesAllowed() external {
        TestPosition p = new TestPosition(bob);
        vm.prank(admin);
        registry.setPositionAllowed(address(p), true);
        vm.recordLogs();
        vm.prank(bob);
        try registry.createPaidRebalancer(address(p)) returns (uint256 id) {
            _adopt(id, p, bob);
        } catch {}
        _drain();
        ++calls["ownerCreatesAllowed"];
    }

    /// @notice A rebalancer's owner removes it (destroyed, its run cancelled, refund returned).
    function ownerRemoves(uint256 idSeed) external {
        uint256 id = bound(idSeed, 1, registry.nextId());
        address owner_ = registry.ownerOf(id);
        if (owner_ == address(0)) return;
        vm.recordLogs();
        vm.prank(owner_);
        registry.removePaidRebalancer(id);
        _drain();
        ++calls["ownerRemoves"];
    }

    /// @notice The admin tops the funder up or restores a rebalancer's allowance.
    function adminFunds(uint256 seed, uint256 amount) external {
        vm.recordLogs();
        if (seed % 2 == 0) {
            amount = bound(amount, 0.01 ether, 2 ether);
            vm.deal(admin, admin.balance + amount);
            vm.prank(admin);
            (bool ok,) = address(funder).call{value: amount}("");
            require(ok, "top-up");
        } else {
            uint256 id = bound(seed >> 1, 1, registry.nextId());
            if (registry.rebalancerOf(id) != address(0)) {
                uint256 allowance = registry.allowancePerRebalancer();
                vm.prank(admin);
                registry.setRebalancerAllowance(id, allowance);
            }
        }
        _drain();
        ++calls["adminFunds"];
    }

    /// @notice The paid positions (all but the fund's) revert RebalanceHeld() and the executor
    /// runs whatever comes due, up to 10 times, time jumping to each next booked run: the
    /// third review's spam, which filled the shared cap and unbooked the fund's rebalancer.
    function paidPositionsSpamHeld(uint256 n) external {
        for (uint256 i = 2; i < tasks.length; ++i) {
            TestPosition p = positionOf[tasks[i]];
            if (address(p) != address(0)) p.setMode(TestPosition.Mode.Held);
        }
        n = bound(n, 1, 10);
        for (uint256 k; k < n; ++k) {
            uint256 next = type(uint256).max;
            for (uint256 i; i < tasks.length; ++i) {
                (uint256 runId, uint256 ts) = IRecurringTask(tasks[i]).bookedRun();
                if (runId != 0 && ts < next) next = ts;
            }
            if (next == type(uint256).max) break;
            if (next > block.timestamp) vm.warp(next);
            uint256[] memory ids = scheduler.nextDueRuns(50);
            vm.recordLogs();
            vm.prank(executor);
            scheduler.executeBatch(ids);
            _drain();
        }
        ++calls["paidPositionsSpamHeld"];
    }

    /* INTERNAL */

    function _fix(address task, address actor, uint256 regId) internal returns (IRecurringTask.FixOutcome o) {
        vm.prank(actor);
        if (regId != 0) {
            try registry.fixReschedule(regId) returns (IRecurringTask.FixOutcome r) {
                o = r;
            } catch {
                o = IRecurringTask.FixOutcome.Destroyed;
            }
        } else {
            o = IRecurringTask(task).fixReschedule();
        }
    }

    function _registryId(address task) internal view returns (uint256) {
        for (uint256 id = 1; id < registry.nextId(); ++id) {
            if (registry.rebalancerOf(id) == task) return id;
        }
        return 0;
    }

    /// @dev A Failed fixReschedule is allowed only when the funder could not pay (balance, the
    /// task's allowance, the rolling-day cap) or the scheduler had no room at that time.
    function _checkCouldNotPay(address task) internal {
        IRecurringTask.RecurringConfig memory c = IRecurringTask(task).recurringConfig();
        uint256 last = IRecurringTask(task).lastRunAt();
        uint256 ts = (last == 0 ? block.timestamp : last) + c.interval;
        if (ts <= block.timestamp) ts = block.timestamp + 1;
        (uint256 fee,, IRebalanceScheduler.ScheduleError err) = scheduler.estimate("", ts, c.priority, c.executionEffort);
        if (err != IRebalanceScheduler.ScheduleError.None) return;
        uint256 amount = fee * c.estimationMarginBps / BpsLib.BPS;
        if (
            address(funder).balance >= amount && funder.allowance(task) >= amount
                && funder.availableTo(task) >= amount
        ) _latch(brokenFix, "fixReschedule failed though the funder could pay and the scheduler had room");
    }

    function _adopt(uint256 id, TestPosition p, address owner_) internal {
        address r = registry.rebalancerOf(id);
        legitSpender[r] = true;
        tasks.push(r);
        positionOf[r] = p;
        vm.prank(owner_);
        p.setRebalancer(r, true);
    }

    /// @dev Reads the action's logs into the books; returns the fees paid out by the scheduler.
    function _drain() internal returns (uint256 feesPaid) {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        address[] memory failed = new address[](logs.length);
        uint256 nFailed;
        for (uint256 i; i < logs.length; ++i) {
            Vm.Log memory l = logs[i];
            bytes32 t0 = l.topics.length == 0 ? bytes32(0) : l.topics[0];
            if (l.emitter == address(scheduler)) {
                if (t0 == IRebalanceScheduler.RunScheduled.selector) {
                    uint256 id = uint256(l.topics[1]);
                    (,,, uint256 fee) = abi.decode(l.data, (uint256, uint8, uint256, uint256));
                    prepaid += fee;
                    runHandler[id] = address(uint160(uint256(l.topics[2])));
                    bookedShare[id] = scheduler.protocolShareBps();
                } else if (t0 == IRebalanceScheduler.RunExecuted.selector) {
                    uint256 id = uint256(l.topics[1]);
                    address by = address(uint160(uint256(l.topics[2])));
                    (, uint256 fee) = abi.decode(l.data, (bool, uint256));
                    if (++executions[id] > 1) _latch(brokenExec, "a run executed twice");
                    // the executor is credited the run's fee less the share booked with it (the
                    // rate when the run was booked, whatever the admin set since)
                    IRebalanceScheduler.Run memory r = scheduler.getRun(id);
                    if (fee != r.fee - r.fee * bookedShare[id] / BpsLib.BPS || r.shareBps != bookedShare[id]) {
                        _latch(brokenExec, "executor credited other than the run's fee less the share booked with it");
                    }
                    ++executedRunsOf[runHandler[id]];
                    paid += fee;
                    feesTo[by] += fee;
                    feesPaid += fee;
                } else if (t0 == IRebalanceScheduler.RunCanceled.selector) {
                    (uint256 refund,) = abi.decode(l.data, (uint256, uint256));
                    refunded += refund;
                }
            } else if (l.emitter == address(funder) && t0 == ITxFunder.FeeWithdrawn.selector) {
                address spender = address(uint160(uint256(l.topics[1])));
                (uint256 amount,) = abi.decode(l.data, (uint256, uint256));
                if (!legitSpender[spender]) _latch(brokenAuth, "the funder paid an account no authorised creator made");
                withdrawAt.push(block.timestamp);
                withdrawAmount.push(amount);
                _bookFee(spender, amount);
            } else if (t0 == IRebalancer.Rebalanced.selector || t0 == IRebalancer.RebalanceFailed.selector) {
                // the task's work: only on a run booked by this task that executed in this action
                uint256 id = uint256(l.topics[1]);
                if (runHandler[id] != l.emitter) _latch(brokenRun, "a task worked on a run it did not book");
                if (!_executedIn(logs, id)) _latch(brokenRun, "a task worked outside the scheduler's execution of its run");
                if (t0 == IRebalancer.RebalanceFailed.selector) {
                    failed[nFailed++] = l.emitter;
                    bytes memory reason = abi.decode(l.data, (bytes));
                    _pendingFail[l.emitter] = true;
                    _failHeld[l.emitter] = reason.length >= 4
                        && bytes4(reason) == IAssetControllerTypes.RebalanceHeld.selector;
                } else {
                    _pendingOk[l.emitter] = true;
                }
            } else if (legitSpender[l.emitter] && t0 == IRecurringTask.RunBooked.selector) {
                (uint256 ts,) = abi.decode(l.data, (uint256, uint256));
                _checkRetryRule(l.emitter, ts);
            } else if (legitSpender[l.emitter] && t0 == IRecurringTask.FailedRecurringSchedule.selector) {
                (, bytes memory reason) = abi.decode(l.data, (uint256, bytes));
                _checkReserveKept(l.emitter, reason);
                _pendingFail[l.emitter] = false;
                _pendingOk[l.emitter] = false;
                _prevShort[l.emitter] = false; // the booking reset the back-off's count
            }
        }
        for (uint256 i; i < nFailed; ++i) _checkRetry(failed[i]);
    }

    /// @dev After a failed run, the retry (if its booking went through) comes no sooner than
    /// interval / RETRY_DIVISOR (what the funder pays for a position that always fails, held or
    /// not) and no later than the interval (a back-off never leaves a task slower than its
    /// cadence), plus the slots a Medium or Low run may be moved by when its slot is full.
    function _checkRetry(address task) internal {
        (uint256 runId, uint256 ts) = IRecurringTask(task).bookedRun();
        if (runId == 0) return; // the booking failed: fixReschedule's business
        uint256 interval = IRecurringTask(task).recurringConfig().interval;
        uint256 soonest = interval / Rebalancer(payable(task)).RETRY_DIVISOR();
        if (ts < block.timestamp + (soonest == 0 ? 1 : soonest)) {
            _latch(brokenRun, "a failed run's retry booked sooner than interval / RETRY_DIVISOR");
        }
        uint256 slack = (scheduler.MAX_SLOT_SEARCH() + 1) * scheduler.slotSeconds();
        if (ts > block.timestamp + interval + slack) _latch(brokenRun, "a failed run's retry booked later than the interval");
    }

    /// @dev A fee into the split bucket; a fee to a spender the admin did not reserve must leave
    /// the unreserved bucket within cap - reserve.
    function _bookFee(address spender, uint256 amount) internal {
        uint256 cap = funder.spendCapPerWindow();
        if (funder.isReserved(spender)) {
            reservedSpent = _drained(reservedSpent, reservedAt, cap) + amount;
            reservedAt = block.timestamp;
        } else {
            unreservedSpent = _drained(unreservedSpent, unreservedAt, cap) + amount;
            unreservedAt = block.timestamp;
            uint256 r = funder.reserve();
            if (unreservedSpent > (r >= cap ? 0 : cap - r) + BUCKET_TOLERANCE) {
                _latch(brokenReserve, "paid positions' fees passed cap - reserve in the rolling bucket");
            }
        }
    }

    /// @dev A reserved task refused for the cap must have found at least the reserve less the
    /// reserved spenders' own undrained fees.
    function _checkReserveKept(address task, bytes memory reason) internal {
        if (reason.length < 68 || bytes4(reason) != ITxFunder.SpendCapExceeded.selector) return;
        if (!funder.isReserved(task)) return;
        uint256 available;
        assembly {
            available := mload(add(reason, 68))
        }
        uint256 own = _drained(reservedSpent, reservedAt, funder.spendCapPerWindow());
        if (available + own + BUCKET_TOLERANCE < funder.reserve()) {
            _latch(brokenReserve, "the fund's automation was refused for the cap: paid positions ate the reserve");
        }
    }

    function _drained(uint256 spent, uint256 at, uint256 cap) internal view returns (uint256) {
        uint256 elapsed = block.timestamp - at;
        if (elapsed >= 1 days) return 0;
        uint256 d = cap * elapsed / 1 days;
        return d >= spent ? 0 : spent - d;
    }

    /// @dev The retry rule on each booking a task made: after a failed run, back off (never the
    /// short delay twice in a row) unless it was a trusted target's RebalanceHeld, which is
    /// retried at interval / 24 each time; after a run that worked, an untrusted target's run is
    /// booked at its cadence (its "off target" word is not believed).
    function _checkRetryRule(address task, uint256 ts) internal {
        if (task == address(supervisor)) return;
        uint256 interval = IRecurringTask(task).recurringConfig().interval;
        uint256 step = interval / Rebalancer(payable(task)).RETRY_DIVISOR();
        bool trusted = Rebalancer(payable(task)).trustedTarget();
        if (_pendingFail[task]) {
            bool backOff = !(trusted && _failHeld[task]);
            uint256 delay = ts - block.timestamp;
            if (backOff) {
                if (_prevShort[task] && delay < 2 * step) {
                    _latch(brokenRetry, 
                        trusted
                            ? "the fund's failure other than RebalanceHeld retried at the short delay twice in a row"
                            : "an untrusted target's failure (RebalanceHeld?) retried at the short delay twice in a row"
                    );
                }
                _prevShort[task] = delay < 2 * step;
            } else {
                uint256 slack = (scheduler.MAX_SLOT_SEARCH() + 1) * scheduler.slotSeconds();
                if (delay > step + slack) _latch(brokenRetry, "the fund's RebalanceHeld was not retried at interval / 24");
                ++shortRetriesOfTrustedHeld;
            }
        } else {
            if (_pendingOk[task] && !trusted) {
                uint256 cadence = IRecurringTask(task).lastRunAt() + interval;
                if (ts < cadence && cadence > block.timestamp) {
                    _latch(brokenRetry, "an untrusted target's word booked its next run before its cadence");
                }
            }
            _prevShort[task] = false;
        }
        _pendingFail[task] = false;
        _pendingOk[task] = false;
    }

    function _executedIn(Vm.Log[] memory logs, uint256 id) internal view returns (bool) {
        for (uint256 j; j < logs.length; ++j) {
            if (
                logs[j].emitter == address(scheduler) && logs[j].topics.length > 1
                    && logs[j].topics[0] == IRebalanceScheduler.RunExecuted.selector && uint256(logs[j].topics[1]) == id
            ) return true;
        }
        return false;
    }

    /// @dev Eve's call (`data` to `target`, under her prank) must revert: one that goes through
    /// breaks the roles property (`what` names it).
    function _refused(address target, bytes memory data, string memory what) internal {
        (bool ok,) = target.call(data);
        if (ok && target.code.length != 0) _latch(brokenAuth, what);
    }
}
