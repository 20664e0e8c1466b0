// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IRebalanceScheduler} from "../interfaces/IRebalanceScheduler.sol";
import {IRebalanceTarget} from "../interfaces/IRebalanceTarget.sol";
import {Rebalancer} from "../automation/Rebalancer.sol";

/// @notice Rebalancer with a hook to plant a receipt, to test stale-receipt recovery (a run that
/// was executed but whose callback reverted, e.g. out of gas, leaves such a receipt behind).
contract TestRebalancerHarness is Rebalancer {
    constructor(address owner_, IRebalanceScheduler scheduler_, IRebalanceTarget position_, RecurringConfig memory c)
        Rebalancer(owner_, scheduler_, position_, c)
    {}

    function plantReceipt(uint64 runId, uint40 runAt) external {
        _receipt.runId = runId;
        _receipt.runAt = runAt;
    }
}
