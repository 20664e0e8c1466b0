// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IRecurringTask} from "./IRecurringTask.sol";

/// @title IPaidRebalancerRegistry
/// @notice Rebalancers the admin pays for (Flow's paid rebalancer). The registry owns every paid
/// Rebalancer it creates; new ones take the admin's default config (and so the admin's funder).
/// One per position, created only by the position's owner (its `owner()`) or an account the
/// admin authorised, so nobody can drain the admin's funder by creating many.
/// The registry must be a manager of each funder it uses (it authorises new rebalancers there).
interface IPaidRebalancerRegistry {
    struct PaidRebalancer {
        address rebalancer;
        address owner;
        address position;
    }

    event PaidRebalancerCreated(
        uint256 indexed id, address indexed position, address indexed owner, address rebalancer
    );
    event PaidRebalancerRemoved(uint256 indexed id, address indexed by);
    event PaidConfigUpdated(uint256 indexed id, IRecurringTask.RecurringConfig config);
    event DefaultRecurringConfigSet(IRecurringTask.RecurringConfig config);
    event CreatorSet(address indexed account, bool allowed);
    event AllowancePerRebalancerSet(uint256 allowance);

    error NotPositionOwner(address caller, address position);
    error RebalancerExists(address position, uint256 id);
    error UnknownRebalancer(uint256 id);
    error NotRebalancerOwner(uint256 id, address caller);
    error ZeroPosition();

    /// @notice Creates, authorises on the default funder and books the paid rebalancer of
    /// `position`. Caller: the position's owner() or an authorised creator.
    /// @return id The registry id (ids start at 1).
    function createPaidRebalancer(address position) external returns (uint256 id);

    /// @notice Admin: swaps one rebalancer's config (its booked run is refunded to the old funder).
    function updateRecurringConfig(uint256 id, IRecurringTask.RecurringConfig calldata config) external;

    /// @notice Admin: the config new paid rebalancers get.
    function updateDefaultRecurringConfig(IRecurringTask.RecurringConfig calldata config) external;

    /// @notice Owner of the paid rebalancer or admin: cancels its run, refunds the funder,
    /// destroys it and frees the position for a new one.
    function removePaidRebalancer(uint256 id) external;

    /// @notice Anyone: the rebalancer's fixReschedule.
    function fixReschedule(uint256 id) external returns (IRecurringTask.FixOutcome);

    /// @notice Admin: lets `account` create paid rebalancers for positions it does not own.
    function setCreator(address account, bool allowed) external;

    /// @notice Admin: the funder allowance given to each new paid rebalancer.
    function setAllowancePerRebalancer(uint256 allowance) external;

    function rebalancerOf(uint256 id) external view returns (address);
    function ownerOf(uint256 id) external view returns (address);
    function paidRebalancer(uint256 id) external view returns (PaidRebalancer memory);
    function idOfPosition(address position) external view returns (uint256);
    function defaultRecurringConfig() external view returns (IRecurringTask.RecurringConfig memory);
    function isCreator(address account) external view returns (bool);
}
