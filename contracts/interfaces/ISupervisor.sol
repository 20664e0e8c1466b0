// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IRecurringTask} from "./IRecurringTask.sol";

/// @title ISupervisor
/// @notice Calls fixReschedule() on registered paid rebalancers so a transient booking failure
/// (funder empty, slot full) never leaves one stuck. Books itself on the scheduler like a cron
/// job and can itself be fixRescheduled.
///
/// A tick walks the list from a cursor and wraps around, so the items checked are the least
/// recently checked ones (swap-and-pop pruning moves the last item into the pruned place; that
/// item is then checked early once). Every item is isolated: a low-level call with a per-item gas
/// cap, no returndata copied beyond one word, a failure recorded as an outcome. Items whose
/// rebalancer reports Destroyed or that answer nothing (no code) are pruned.
///
/// Outcomes are reported once per tick, not once per item: Ticked.outcomes holds one word per
/// item checked, in order, packing the registry id and its ItemOutcome (see Ticked). A keeper
/// decodes id = word >> 8, outcome = word & 0xff.
///
/// Who adds items (issue 11): only the admin (owner) and the registry (which registers each paid
/// rebalancer it creates, within its caps). Before, any registry owner of an id could add it, and
/// ids were free to make, so one public tick re-booked a flood of attacker rebalancers on the
/// admin's funder. Removal: the admin, the registry, or the id's registry owner.
interface ISupervisor is IRecurringTask {
    /// @notice Outcome of one item: the first four mirror IRecurringTask.FixOutcome.
    enum ItemOutcome {
        AlreadyBooked,
        Booked,
        Failed,
        Destroyed,
        Reverted,
        NoResponse
    }

    /// @notice An item was removed by a tick (its outcome, Destroyed or NoResponse, is also in
    /// that tick's Ticked.outcomes).
    event ItemPruned(uint256 indexed id, ItemOutcome reason);
    event PaidRebalancerAdded(uint256 indexed id, address rebalancer);
    event PaidRebalancerRemoved(uint256 indexed id);
    /// @notice One event per tick, carrying every item's outcome (one LOG per tick instead of one
    /// per item keeps a healthy item under 8,000 gas).
    /// @param checked Items checked, pruned ones included (= outcomes.length).
    /// @param remaining Items left in the list after pruning.
    /// @param cursor Index the next tick starts from.
    /// @param outcomes One word per item checked, in the order checked:
    /// `(id << 8) | uint8(ItemOutcome)`, i.e. id = word >> 8 and outcome = word & 0xff.
    event Ticked(uint256 checked, uint256 remaining, uint256 cursor, uint256[] outcomes);
    event TickSettingsSet(uint256 itemGasCap, uint256 maxItemsPerRun);

    error NotRebalancerOwnerOrAdmin(uint256 id, address caller);
    error NotAdminOrRegistry(address caller);
    error UnknownRebalancer(uint256 id);
    error AlreadySupervised(uint256 id);
    error NotSupervised(uint256 id);
    error InvalidTickSettings(uint256 itemGasCap, uint256 maxItemsPerRun);

    /// @notice Registers a paid rebalancer. The admin or the registry only.
    function addPaidRebalancer(uint256 id) external;

    /// @notice addPaidRebalancer for many ids in one transaction (each id checked the same way).
    function addPaidRebalancers(uint256[] calldata ids) external;

    /// @notice Unregisters a paid rebalancer. Its registry owner, the registry or the admin.
    function removePaidRebalancer(uint256 id) external;

    /// @notice Permissionless: checks up to `maxItems` items from the cursor. Stops early, leaving
    /// the cursor on the next unchecked item, when the gas left cannot cover another item.
    /// @return checked Items checked (pruned ones included).
    function tick(uint256 maxItems) external returns (uint256 checked);

    /// @notice Admin: per-item gas cap and the items checked by each scheduled run.
    function setTickSettings(uint256 itemGasCap, uint256 maxItemsPerRun) external;

    /// @notice Admin: the supervisor's own recurring config (refund to the old funder).
    function setRecurringConfig(RecurringConfig calldata config) external;

    function itemCount() external view returns (uint256);
    function itemAt(uint256 index) external view returns (uint256 id, address rebalancer);
    function isSupervised(uint256 id) external view returns (bool);
    function cursor() external view returns (uint256);
    function itemGasCap() external view returns (uint256);
    function maxItemsPerRun() external view returns (uint256);
}
