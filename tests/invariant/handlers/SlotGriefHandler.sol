// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {CheatBase, Vm} from "../support/InvariantBase.sol";
import {RebalanceScheduler} from "../../../contracts/automation/RebalanceScheduler.sol";
import {Rebalancer} from "../../../contracts/automation/Rebalancer.sol";
import {IRebalanceScheduler} from "../../../contracts/interfaces/IRebalanceScheduler.sol";
import {IRecurringTask} from "../../../contracts/interfaces/IRecurringTask.sol";
import {TestHandler} from "../../../contracts/test/TestHandler.sol";

/// @notice A booker who tries to corner the Medium pool: it fills every slot a victim
/// rebalancer's next booking searches (or any slots it likes), books at random, cancels, and
/// executes its own runs to get its fees back; a neutral keeper executes the victim's runs and
/// anyone calls the victim's fixReschedule; time passes. The books: the attacker's wealth
/// (this contract, which executes and pays, plus its handler, which books and takes refunds)
/// and every slot a victim booking found full (EstimateRejected(NoSlotWithRoom) searches the
/// slot of its timestamp and MAX_SLOT_SEARCH after it).
contract SlotGriefHandler is CheatBase {
    bytes32 internal constant FAILED_SIG = keccak256("FailedRecurringSchedule(uint256,bytes)");

    RebalanceScheduler public immutable scheduler;
    Rebalancer public immutable victim;
    TestHandler public immutable grief;
    address public immutable keeper;
    uint256 public immutable start;

    uint256[] public attackerRuns;
    mapping(uint256 slot => bool) public blocked;
    uint256 public blockedSlots;
    uint256 public failures;
    mapping(bytes32 => uint256) public calls;

    constructor(RebalanceScheduler scheduler_, Rebalancer victim_, address keeper_) {
        scheduler = scheduler_;
        victim = victim_;
        keeper = keeper_;
        grief = new TestHandler(scheduler_);
        vm.deal(address(this), 100_000 ether);
        start = 100_000 ether;
    }

    receive() external payable {}

    /// @notice What the attacker holds now (it started with `start`): its balances and the
    /// credit the scheduler owes it for executions (issue 68: executors are paid by credit).
    function wealth() public view returns (uint256) {
        return address(this).balance + address(grief).balance + scheduler.credits(address(this));
    }

    function attackerRunCount() external view returns (uint256) {
        return attackerRuns.length;
    }

    /* ACTIONS */

    /// @notice Fills the Medium pool of every slot the victim's next booking searches (even
    /// `where`: the attack), or of `n` (1 to 33) slots from up to 3 h ahead (odd `where`), in
    /// bookings of at most 7.5M effort.
    function fill(uint256 n, uint256 where) external {
        bool attack = where % 2 == 0;
        n = attack ? scheduler.MAX_SLOT_SEARCH() + 1 : bound(n, 1, scheduler.MAX_SLOT_SEARCH() + 1);
        uint256 ts = attack ? _victimNextTs() : block.timestamp + bound(where, 1, 3 hours);
        uint256 cap = scheduler.slotCapacity(IRebalanceScheduler.Priority.Medium);
        uint256 slotSeconds = scheduler.slotSeconds();
        for (uint256 s = ts / slotSeconds; s < ts / slotSeconds + n; ++s) {
            uint256 at = s * slotSeconds > block.timestamp ? s * slotSeconds : block.timestamp + 1;
            if (at / slotSeconds != s) continue;
            uint256 used = scheduler.slotUsage(s, IRebalanceScheduler.Priority.Medium);
            while (used + scheduler.minEffort() <= cap) {
                uint256 effort = cap - used;
                if (effort > 7_500_000) effort = 7_500_000;
                _book(at, effort);
                used += effort;
            }
        }
        ++calls["fill"];
    }

    /// @notice One Medium booking of the attacker's choice.
    function book(uint256 delay, uint256 effortSeed) external {
        uint256 effort = bound(effortSeed, scheduler.minEffort(), 9_999_999);
        _book(block.timestamp + bound(delay, 1, 3 hours), effort);
        ++calls["book"];
    }

    /// @notice The attacker executes its own due runs (and is credited for them), and takes its
    /// credit out when it has one.
    function selfExecute() external {
        scheduler.executeBatch(attackerRuns);
        if (scheduler.credits(address(this)) != 0) scheduler.withdrawCredit(payable(address(this)));
        ++calls["selfExecute"];
    }

    /// @notice The attacker cancels one of its runs (refunded to its handler).
    function cancel(uint256 seed) external {
        if (attackerRuns.length == 0) return;
        uint256 id = attackerRuns[seed % attackerRuns.length];
        if (scheduler.status(id) != IRebalanceScheduler.Status.Scheduled) return;
        grief.cancel(id);
        ++calls["cancel"];
    }

    /// @notice A neutral keeper executes the victim's run at its time (waiting for it when it
    /// is not due yet); the victim books its next.
    function keeperRunsVictim() external {
        (uint256 runId, uint256 at) = victim.bookedRun();
        if (runId == 0) return;
        if (at > block.timestamp) vm.warp(at);
        if (scheduler.status(runId) != IRebalanceScheduler.Status.Scheduled) return;
        vm.recordLogs();
        vm.prank(keeper);
        scheduler.execute(runId);
        _observe();
        ++calls["keeperRunsVictim"];
    }

    /// @notice Anyone calls the victim's fixReschedule.
    function fixVictim() external {
        vm.recordLogs();
        vm.prank(keeper);
        victim.fixReschedule();
        _observe();
        ++calls["fixVictim"];
    }

    /// @notice Time passes (30 s to 2 h).
    function passTime(uint256 secs) external {
        _passTime(secs, 30, 2 hours);
        ++calls["passTime"];
    }

    /* INTERNAL */

    function _book(uint256 at, uint256 effort) internal {
        (uint256 fee,, IRebalanceScheduler.ScheduleError err) =
            scheduler.estimate("", at, IRebalanceScheduler.Priority.Medium, effort);
        if (err != IRebalanceScheduler.ScheduleError.None) return;
        attackerRuns.push(grief.book{value: fee}("", at, IRebalanceScheduler.Priority.Medium, effort));
    }

    /// @dev Where the victim's next booking will look: after its booked run, or now.
    function _victimNextTs() internal view returns (uint256 ts) {
        (uint256 runId, uint256 at) = victim.bookedRun();
        uint256 interval = victim.recurringConfig().interval;
        uint256 last = runId != 0 ? at : victim.lastRunAt();
        ts = (last == 0 ? block.timestamp : last) + interval;
        if (ts <= block.timestamp) ts = block.timestamp + 1;
    }

    /// @dev Every victim booking that found no slot with room: its 33 searched slots were full.
    function _observe() internal {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        bytes memory noRoom = abi.encodeWithSelector(
            IRecurringTask.EstimateRejected.selector, IRebalanceScheduler.ScheduleError.NoSlotWithRoom
        );
        uint256 slotSeconds = scheduler.slotSeconds();
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(victim) || logs[i].topics[0] != FAILED_SIG) continue;
            (uint256 ts, bytes memory reason) = abi.decode(logs[i].data, (uint256, bytes));
            if (keccak256(reason) != keccak256(noRoom)) continue;
            ++failures;
            uint256 first = ts / slotSeconds;
            for (uint256 s = first; s <= first + scheduler.MAX_SLOT_SEARCH(); ++s) {
                if (!blocked[s]) {
                    blocked[s] = true;
                    ++blockedSlots;
                }
            }
        }
    }
}
