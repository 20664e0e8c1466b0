// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IRecurringTask} from "./IRecurringTask.sol";
import {IRebalanceTarget} from "./IRebalanceTarget.sol";

/// @title IRebalancer
/// @notice Calls position.rebalance(force) on every scheduled run and books the next one (Flow's
/// standard rebalancer). Owned by a user (who pays with their own txFunder) or by the
/// PaidRebalancerRegistry (the admin pays).
///
/// Refund rule: the Rebalancer never keeps native currency. Every wei the scheduler refunds on a
/// cancel (its refundBps share of the prepaid fee) and any stray balance goes back to the funder
/// that paid, in the same transaction; destroy() cancels the booked run and returns everything
/// this way ("cancel-and-destroy refunds everything": nothing is left behind in the Rebalancer).
interface IRebalancer is IRecurringTask {
    event CreatedRebalancer(address indexed owner, address indexed position, address indexed txFunder);
    event Rebalanced(uint256 indexed runId, bool moved);
    event RebalanceFailed(uint256 indexed runId, bytes reason);

    /// @notice Cancels the booked run with its refund going to the OLD funder, swaps the config,
    /// then books the next run with the new one. Owner only.
    function setRecurringConfig(RecurringConfig calldata config) external;

    /// @notice Cancels the booked run, returns every wei to the funder and stops for good.
    /// Owner only.
    function destroy() external;

    function position() external view returns (IRebalanceTarget);
}
