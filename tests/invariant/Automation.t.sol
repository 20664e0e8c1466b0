// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {InvariantBase} from "./support/InvariantBase.sol";
import {AutomationHandler} from "./handlers/AutomationHandler.sol";
import {RebalanceScheduler} from "../../contracts/automation/RebalanceScheduler.sol";
import {TxFunder} from "../../contracts/automation/TxFunder.sol";
import {PaidRebalancerRegistry} from "../../contracts/automation/PaidRebalancerRegistry.sol";
import {Supervisor} from "../../contracts/automation/Supervisor.sol";
import {IRebalanceScheduler} from "../../contracts/interfaces/IRebalanceScheduler.sol";
import {IRecurringTask} from "../../contracts/interfaces/IRecurringTask.sol";
import {TestPosition} from "../../contracts/test/TestPosition.sol";

/// @notice The automation contracts wired as the deploy profiles wire them (scheduler, the
/// admin's TxFunder with a rolling-day cap, the PaidRebalancerRegistry with an authorised
/// creator, caps and finite allowances, the Supervisor booked on the scheduler) under an
/// attacker, an executor, position owners, the admin and time. The fund's own paid rebalancer
/// (alice's) and one allow-listed position of bob's exist from the start.
contract AutomationInvariants is InvariantBase {
    uint256 internal constant SLOT = 60;
    uint256 internal constant BASE_FEE = 1e9; // wei per unit of effort
    uint256 internal constant DATA_FEE = 1_000;
    /// @dev The funder's rolling-day cap: about 5 rebalancer bookings past what setUp spends (a supervisor booking is 5 of those), so that it binds within a sequence.
    uint256 internal constant FUNDER_CAP = 0.03 ether;
    /// @dev Kept for the fund's rebalancer and the supervisor: paid positions stop at 0.015 ether.
    uint256 internal constant RESERVE = 0.015 ether;
    uint256 internal constant ALLOWANCE = 0.05 ether; // about 20 bookings of a rebalancer
    uint256 internal constant MAX_PER_OWNER = 3;
    uint256 internal constant MAX_TOTAL = 5; // below 2 owners x 3: both caps bind

    RebalanceScheduler internal scheduler;
    TxFunder internal funder;
    PaidRebalancerRegistry internal registry;
    Supervisor internal supervisor;
    AutomationHandler internal handler;
    address internal creator = address(0xC0);
    address internal executor = address(0xE8EC);

    function _config(uint32 effort) internal view returns (IRecurringTask.RecurringConfig memory) {
        return IRecurringTask.RecurringConfig({
            interval: 3600,
            priority: IRebalanceScheduler.Priority.Medium,
            executionEffort: effort,
            estimationMarginBps: 12_000,
            forceRebalance: false,
            txFunder: address(funder)
        });
    }

    function setUp() public {
        vm.warp(1_750_000_000);
        vm.deal(admin, 100 ether);
        vm.startPrank(admin);
        scheduler = new RebalanceScheduler(admin, SLOT, BASE_FEE, DATA_FEE);
        funder = new TxFunder(admin, FUNDER_CAP);
        (bool ok,) = address(funder).call{value: 5 ether}("");
        require(ok, "fund the funder");
        registry = new PaidRebalancerRegistry(admin, scheduler, _config(400_000), ALLOWANCE, MAX_PER_OWNER, MAX_TOTAL);
        funder.setManager(address(registry), true);
        supervisor = new Supervisor(admin, scheduler, registry, _config(2_000_000), 400_000, 200);
        funder.approveSpender(address(supervisor), 10 ether);
        supervisor.fixReschedule();
        registry.setSupervisor(address(supervisor));
        registry.setCreator(creator, true);
        vm.stopPrank();

        // the fund's rebalancer, made by the authorised creator for alice
        TestPosition fund = new TestPosition(alice);
        vm.prank(creator);
        uint256 id = registry.createPaidRebalancerFor(address(fund), alice);
        address r = registry.rebalancerOf(id);
        vm.prank(alice);
        fund.setRebalancer(r, true);
        // as the deploy profiles do: only the fund's controller is believed, and the fund's
        // rebalancer and the supervisor keep a reserve of the daily cap
        vm.startPrank(admin);
        registry.setTrustedTarget(id, true);
        funder.setReservedSpender(r, true);
        funder.setReservedSpender(address(supervisor), true);
        funder.setReserve(RESERVE);
        vm.stopPrank();
        // one allow-listed position of bob's, created by bob himself
        TestPosition bobs = new TestPosition(bob);
        vm.prank(admin);
        registry.setPositionAllowed(address(bobs), true);
        vm.prank(bob);
        id = registry.createPaidRebalancer(address(bobs));
        r = registry.rebalancerOf(id);
        vm.prank(bob);
        bobs.setRebalancer(r, true);

        handler = new AutomationHandler(scheduler, funder, registry, supervisor, admin, creator, alice, bob, eve, executor);
        targetContract(address(handler));
    }

    /// @notice Every property below, checked after every call of one campaign (forge runs a
    /// campaign per public invariant over the same call sequences: one property per campaign
    /// played each sequence again for every property). Each property stays a function of its
    /// own, named as before, and says in its failure message what broke.
    function invariant_everyProperty() public view {
        invariant_schedulerFeeEscrow();
        invariant_onlyAuthorisedCreatorsMakeTheFunderPay();
        invariant_funderWithinDailyCap();
        invariant_handlerActsOnlyOnItsOwnRun();
        invariant_fixRescheduleIdempotent();
        invariant_runsExecuteOnceAndAttackerEarnsOnlyFees();
        invariant_paidPositionsCannotStarveTheFund();
        invariant_shortRetryOnlyForTheFundsOwnRun();
        invariant_registryCaps();
    }

    /// @notice Fee escrow (issue 68: executors paid by credit, the protocol's share split at
    /// booking): the scheduler holds exactly what was prepaid less the credits withdrawn and the
    /// refunds; and that is, to the wei, the executors' credits + the executors' parts of the runs
    /// still booked (each fee less the share booked with it) + the protocol's tally. The credits
    /// are what executions credited less what was withdrawn.
    function invariant_schedulerFeeEscrow() internal view {
        uint256 bal = address(scheduler).balance;
        check(bal == handler.prepaid() - handler.withdrawn() - handler.refunded(), "escrow != prepaid - withdrawn - refunded");
        uint256 escrowed;
        for (uint256 id = 1; id < scheduler.nextId(); ++id) {
            IRebalanceScheduler.Run memory r = scheduler.getRun(id);
            if (r.status == IRebalanceScheduler.Status.Scheduled) escrowed += r.fee - r.fee * r.shareBps / 10_000;
        }
        uint256 credits = scheduler.credits(executor) + scheduler.credits(eve);
        check(credits == handler.paid() - handler.withdrawn(), "credits != credited - withdrawn");
        check(bal == credits + escrowed + scheduler.protocolFees(), "balance != credits + escrowed bookings + protocol tally");
    }

    /// @notice Only an authorised creator (or the owner of an allow-listed position) makes the
    /// admin's funder pay: every fee it paid went to the supervisor or a rebalancer made that
    /// way, eve holds no paid rebalancer, no allowance, no supervisor item, no creator right.
    function invariant_onlyAuthorisedCreatorsMakeTheFunderPay() internal view {
        check(bytes(handler.brokenAuth()).length == 0, handler.brokenAuth());
        check(registry.liveCountOf(eve) == 0, "eve holds a paid rebalancer");
        check(funder.allowance(eve) == 0 && !funder.isSpender(eve), "eve has an allowance on the funder");
        check(!registry.isCreator(eve), "eve is a creator");
        for (uint256 id = 1; id < registry.nextId(); ++id) {
            address o = registry.ownerOf(id);
            check(o == address(0) || o == alice || o == bob, "a paid rebalancer has an owner nobody authorised");
        }
        for (uint256 i; i < supervisor.itemCount(); ++i) {
            (, address r) = supervisor.itemAt(i);
            check(handler.legitSpender(r), "a supervisor item the registry did not make");
        }
    }

    /// @notice The funder's rolling-day cap: the window's books never pass it, and what it paid
    /// in any day-long span is at most twice the cap (a full bucket, then a day of draining).
    function invariant_funderWithinDailyCap() internal view {
        check(funder.spentInWindow() <= FUNDER_CAP, "funder spent above its cap in the window");
        (uint256[] memory at, uint256[] memory paid) = handler.withdrawLog();
        check(mostInSpan(at, paid, 1 days, 0) <= 2 * FUNDER_CAP, "funder paid more than twice its cap in a day-long span");
        for (uint256 i; i < handler.taskCount(); ++i) {
            check(funder.allowance(handler.tasks(i)) <= 10 ether, "a task's allowance is unbounded");
        }
    }

    /// @notice A task works only on its own run: nobody books for it, calls it directly or
    /// cancels its run; every rebalance happened inside the scheduler's execution of a run the
    /// rebalancer booked; a position rebalanced no more often than its rebalancer's runs executed;
    /// a failed run's retry comes between interval / RETRY_DIVISOR and the interval later, held
    /// or backing off.
    function invariant_handlerActsOnlyOnItsOwnRun() internal view {
        check(bytes(handler.brokenRun()).length == 0, handler.brokenRun());
        for (uint256 i = 1; i < handler.taskCount(); ++i) {
            address task = handler.tasks(i);
            TestPosition p = handler.positionOf(task);
            check(p.calls() <= handler.executedRunsOf(task), "position rebalanced more often than its runs executed");
        }
    }

    /// @notice fixReschedule twice equals once (by anyone, on the task or through the
    /// registry); a live task has at most one booked run, and it is the one its receipt names;
    /// a Failed fix only when the funder could not pay.
    function invariant_fixRescheduleIdempotent() internal view {
        check(bytes(handler.brokenFix()).length == 0, handler.brokenFix());
        for (uint256 i; i < handler.taskCount(); ++i) {
            address task = handler.tasks(i);
            uint256[] memory live = scheduler.bookedRuns(task, 0, 1_000);
            check(live.length <= 1, "a task has more than one booked run");
            (uint256 runId,) = IRecurringTask(task).bookedRun();
            if (live.length == 1) check(live[0] == runId, "a task's booked run is not the one its receipt names");
        }
    }

    /// @notice A run executes at most once and its executor is credited exactly its fee less the share booked with it; eve's
    /// balance is what she started with, less what she sent, plus the fees of the runs she
    /// executed: she gains nothing else.
    function invariant_runsExecuteOnceAndAttackerEarnsOnlyFees() internal view {
        check(bytes(handler.brokenExec()).length == 0, handler.brokenExec());
        check(
            eve.balance + scheduler.credits(eve) == handler.eveStart() - handler.eveOut() + handler.feesTo(eve),
            "eve's balance and credit are not start - sent + fees"
        );
    }

    /// @notice Paid positions cannot starve the fund's automation: the fees paid to spenders the
    /// admin did not reserve, as a bucket draining like the funder's, never pass cap - reserve;
    /// a reserved spender (the fund's rebalancer, the supervisor) refused for the cap always
    /// found at least the reserve less its own undrained fees. Mutation: TxFunder._available
    /// without the reserve (every spender up to the cap) fails both.
    function invariant_paidPositionsCannotStarveTheFund() internal view {
        check(bytes(handler.brokenReserve()).length == 0, handler.brokenReserve());
        check(funder.reserve() == RESERVE && funder.isReserved(handler.tasks(1)), "the reserve moved");
    }

    /// @notice Retries for the fund's own run only: a failed run of a target nobody flagged
    /// (RebalanceHeld included) is never retried at the short delay twice in a row, nor is a
    /// trusted target's failure other than RebalanceHeld; the fund's RebalanceHeld is retried
    /// at interval / 24 every time; an untrusted target's "off target" word books no early
    /// run. Mutations: Rebalancer believing any target's RebalanceHeld (today's main) or any
    /// target's second word fails it.
    function invariant_shortRetryOnlyForTheFundsOwnRun() internal view {
        check(bytes(handler.brokenRetry()).length == 0, handler.brokenRetry());
    }

    /// @notice The registry's caps hold: live paid rebalancers in all and per owner.
    function invariant_registryCaps() internal view {
        check(registry.liveCount() <= MAX_TOTAL, "more live paid rebalancers than maxTotal");
        check(registry.liveCountOf(alice) <= MAX_PER_OWNER && registry.liveCountOf(bob) <= MAX_PER_OWNER, "owner above maxPerOwner");
    }
}
