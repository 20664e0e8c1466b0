// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IRecurringTask} from "./IRecurringTask.sol";

/// @title IPaidRebalancerRegistry
/// @notice Rebalancers the admin pays for (Flow's paid rebalancer). The registry owns every paid
/// Rebalancer it creates; new ones take the admin's default config (and so the admin's funder).
/// The registry must be a manager of each funder it uses (it authorises new rebalancers there).
///
/// Who may make the admin pay (issue 11). Before, any position's `owner()` could create one, and
/// positions cost nothing to deploy: 40 fake positions emptied the admin's funder into the
/// executor's (the attacker's) pocket. Now:
/// - creation: the registry owner, an authorised creator (`setCreator`), or the `owner()` of a
///   position the registry owner allow-listed (`setPositionAllowed`); anyone else reverts with
///   NotAuthorisedCreator;
/// - caps: at most `maxPerOwner` live paid rebalancers per owner and `maxTotal` in all
///   (OwnerCapReached, TotalCapReached); removal frees a place;
/// - allowance: each new rebalancer gets a finite `allowancePerRebalancer` on the funder
///   (0 < allowance <= MAX_ALLOWANCE_PER_REBALANCER, InvalidAllowance otherwise), so it can never
///   spend more than that in its life unless the registry owner raises it (`setRebalancerAllowance`);
/// - the funder's own rolling-day spend cap (ITxFunder) bounds all of them together.
/// Worst case of a stolen creator key: maxTotal x allowancePerRebalancer in all, and no more than
/// the funder's daily cap per day.
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
    event PositionAllowedSet(address indexed position, bool allowed);
    event AllowancePerRebalancerSet(uint256 allowance);
    event RebalancerAllowanceSet(uint256 indexed id, uint256 allowance);
    event LimitsSet(uint256 maxPerOwner, uint256 maxTotal);
    event SupervisorSet(address indexed supervisor);
    event TrustedTargetSet(uint256 indexed id, bool trusted);

    error NotPositionOwner(address caller, address position);
    error NotAuthorisedCreator(address caller, address position);
    error RebalancerExists(address position, uint256 id);
    error UnknownRebalancer(uint256 id);
    error NotRebalancerOwner(uint256 id, address caller);
    error ZeroPosition();
    error ZeroOwner();
    error InvalidAllowance(uint256 allowance);
    error InvalidLimits(uint256 maxPerOwner, uint256 maxTotal);
    error OwnerCapReached(address owner, uint256 maxPerOwner);
    error TotalCapReached(uint256 maxTotal);

    /// @notice Creates, authorises on the default funder (for `allowancePerRebalancer`), books,
    /// and registers with the supervisor (when one is set) the paid rebalancer of `position`,
    /// owned by the caller. Caller: the registry owner, an authorised creator, or the `owner()`
    /// of an allow-listed position. Subject to the per-owner and total caps.
    /// @return id The registry id (ids start at 1).
    function createPaidRebalancer(address position) external returns (uint256 id);

    /// @notice createPaidRebalancer with `owner_` as the paid rebalancer's registry owner (the
    /// deploy creates the fund's rebalancer for the admin this way, so the deployer keeps no
    /// power over it). Caller: the registry owner or an authorised creator only.
    function createPaidRebalancerFor(address position, address owner_) external returns (uint256 id);

    /// @notice Admin: swaps one rebalancer's config (its booked run is refunded to the old funder).
    function updateRecurringConfig(uint256 id, IRecurringTask.RecurringConfig calldata config) external;

    /// @notice Admin: the config new paid rebalancers get.
    function updateDefaultRecurringConfig(IRecurringTask.RecurringConfig calldata config) external;

    /// @notice Owner of the paid rebalancer or admin: cancels its run, refunds the funder,
    /// destroys it and frees the position for a new one.
    function removePaidRebalancer(uint256 id) external;

    /// @notice Anyone: the rebalancer's fixReschedule.
    function fixReschedule(uint256 id) external returns (IRecurringTask.FixOutcome);

    /// @notice Admin: lets `account` create paid rebalancers for any position and owner.
    function setCreator(address account, bool allowed) external;

    /// @notice A creator gives up its own right to create (the deployer does after set-up).
    function renounceCreator() external;

    /// @notice Admin: lets the `owner()` of `position` create its paid rebalancer.
    function setPositionAllowed(address position, bool allowed) external;

    /// @notice Admin: the funder allowance given to each new paid rebalancer (finite, validated).
    function setAllowancePerRebalancer(uint256 allowance) external;

    /// @notice Admin: re-approves one paid rebalancer on its funder for `allowance` (a top-up).
    function setRebalancerAllowance(uint256 id, uint256 allowance) external;

    /// @notice Admin: the caps on live paid rebalancers per owner and in total.
    function setLimits(uint256 maxPerOwner, uint256 maxTotal) external;

    /// @notice Admin: the Supervisor new paid rebalancers are registered with (zero: none). The
    /// supervisor accepts items only from its owner and this registry.
    function setSupervisor(address supervisor) external;

    /// @notice Flags paid rebalancer `id`'s position as the fund's own (its RebalanceHeld and its
    /// "cut and still out of band" word retried at interval / 24 without backing off; see
    /// IRebalancer.setTrustedTarget). Admin only: neither a creator nor the position's owner can.
    function setTrustedTarget(uint256 id, bool trusted) external;

    function rebalancerOf(uint256 id) external view returns (address);
    function ownerOf(uint256 id) external view returns (address);
    function paidRebalancer(uint256 id) external view returns (PaidRebalancer memory);
    function idOfPosition(address position) external view returns (uint256);
    function defaultRecurringConfig() external view returns (IRecurringTask.RecurringConfig memory);
    function isCreator(address account) external view returns (bool);
    function isPositionAllowed(address position) external view returns (bool);
    function allowancePerRebalancer() external view returns (uint256);
    function maxPerOwner() external view returns (uint256);
    function maxTotal() external view returns (uint256);
    function liveCount() external view returns (uint256);
    function liveCountOf(address owner) external view returns (uint256);
    function supervisor() external view returns (address);
}
