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
    event TrustedTargetSet(bool trusted);

    /// @notice Cancels the booked run with its refund going to the OLD funder, swaps the config,
    /// then books the next run with the new one. Owner only.
    function setRecurringConfig(RecurringConfig calldata config) external;

    /// @notice Cancels the booked run, returns every wei to the funder and stops for good.
    /// Owner only.
    function destroy() external;

    /// @notice Whether the position's own word is believed (the fund's controller, which its admin
    /// flags): its RebalanceHeld() and its "cut and still out of band" second return word then
    /// book the retry at interval / RETRY_DIVISOR without backing off. Any other target's
    /// failures, RebalanceHeld included, back off, and its second word is ignored. Owner only
    /// (for a paid rebalancer: the registry's owner, through the registry).
    function setTrustedTarget(bool trusted) external;

    function trustedTarget() external view returns (bool);

    function position() external view returns (IRebalanceTarget);
}
