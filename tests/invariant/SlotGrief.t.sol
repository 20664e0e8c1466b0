// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {InvariantBase} from "./support/InvariantBase.sol";
import {SlotGriefHandler} from "./handlers/SlotGriefHandler.sol";
import {RebalanceScheduler} from "../../contracts/automation/RebalanceScheduler.sol";
import {Rebalancer} from "../../contracts/automation/Rebalancer.sol";
import {TxFunder} from "../../contracts/automation/TxFunder.sol";
import {IRebalanceScheduler} from "../../contracts/interfaces/IRebalanceScheduler.sol";
import {IRecurringTask} from "../../contracts/interfaces/IRecurringTask.sol";
import {IRebalanceTarget} from "../../contracts/interfaces/IRebalanceTarget.sol";
import {TestPosition} from "../../contracts/test/TestPosition.sol";

/// @notice A scheduler nobody can corner: a booker who fills, books, cancels and executes its
/// own runs at will against a recurring Medium rebalancer (300,000 effort, hourly, margin 1.2).
contract SlotGriefInvariants is InvariantBase {
    uint256 internal constant SLOT = 60;
    uint256 internal constant BASE_FEE = 1e9;
    uint256 internal constant EFFORT = 300_000;
    uint256 internal constant MEDIUM_MULTIPLIER = 5;
    /// @dev The stated share (the scheduler's default protocolShareBps; nobody changes it here):
    /// a constant, so that a scheduler keeping less fails the property rather than lowering it.
    uint256 internal constant SHARE_BPS = 2_000;

    RebalanceScheduler internal scheduler;
    Rebalancer internal victim;
    SlotGriefHandler internal handler;

    function setUp() public {
        vm.warp(1_750_000_000);
        vm.deal(admin, 1_000 ether);
        vm.startPrank(admin);
        scheduler = new RebalanceScheduler(admin, SLOT, BASE_FEE, 0);
        TxFunder funder = new TxFunder(admin, 1_000 ether);
        (bool ok,) = address(funder).call{value: 500 ether}("");
        require(ok, "fund the funder");
        vm.stopPrank();
        TestPosition position = new TestPosition(alice);
        victim = new Rebalancer(
            alice,
            scheduler,
            IRebalanceTarget(address(position)),
            IRecurringTask.RecurringConfig({
                interval: 3600,
                priority: IRebalanceScheduler.Priority.Medium,
                executionEffort: uint32(EFFORT),
                estimationMarginBps: 12_000,
                forceRebalance: false,
                txFunder: address(funder)
            })
        );
        vm.prank(admin);
        funder.approveSpender(address(victim), type(uint256).max);
        vm.prank(alice);
        position.setRebalancer(address(victim), true);
        victim.fixReschedule();
        handler = new SlotGriefHandler(scheduler, victim, address(0xE8EC));
        targetContract(address(handler));
    }

    /// @notice Cornering costs: every slot in which a victim booking found no room cost the
    /// attacker at least protocolShareBps x (capacity - 2 x effort) x the Medium fee per effort,
    /// net of everything it got back by executing its own runs or cancelling them (the victim's
    /// own runs hold at most 2 x effort of a slot: the one just executed and none else). With
    /// the deployed figures (share 20%, 15M Medium per 60 s slot, 300,000 effort, margin 1.2)
    /// that is 0.2 x 14.4M x 5 gwei = 0.0144 ETH per blocked slot, 8 times the 0.0018 ETH of
    /// the victim's blocked booking (300,000 x 5 gwei x 1.2), and the first failure alone (33
    /// slots) 0.475 ETH. Mutation:
    /// a scheduler that pays the executor the whole fee (protocolShareBps 0, today's main)
    /// fails it: the attacker executes its own runs and loses nothing.
    function invariant_corneringCostsTheProtocolShare() public view {
        uint256 loss = handler.start() - handler.wealth();
        uint256 cap = scheduler.slotCapacity(IRebalanceScheduler.Priority.Medium);
        uint256 perSlot = SHARE_BPS * (cap - 2 * EFFORT) * MEDIUM_MULTIPLIER * BASE_FEE / 10_000;
        check(loss >= handler.blockedSlots() * perSlot, "a blocked slot cost the attacker less than the protocol share");
    }

    /// @notice The property is not vacuous: a full fill makes the victim's booking fail, and
    /// the attacker executing its own 66 runs still lost the share.
    function test_fillBlocksTheVictimAndCosts() public {
        vm.warp(block.timestamp + 3600); // the victim's run is due
        handler.fill(32, 0); // 33 slots (bound maps 32 to 33) from the victim's next booking time
        handler.keeperRunsVictim();
        (uint256 runId,) = victim.bookedRun();
        require(runId == 0 && handler.failures() == 1 && handler.blockedSlots() == 33, "the fill did not block");
        vm.warp(block.timestamp + 3 hours);
        handler.selfExecute();
        invariant_corneringCostsTheProtocolShare();
        require(handler.start() - handler.wealth() >= 33 * 0.0144 ether, "the attacker lost less than the share");
    }
}
