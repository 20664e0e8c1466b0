// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IRebalanceScheduler} from "../interfaces/IRebalanceScheduler.sol";

/// @notice Test double: an executor that is a contract. It can reject ETH (a credit it cannot
/// take by value must block nobody else), or call back into the scheduler while it is paid: a
/// second withdrawal of its own credit, or an execution, recording what the callback got.
contract TestExecutor {
    enum OnReceive {
        Accept,
        Reject,
        WithdrawAgain
    }

    IRebalanceScheduler public immutable scheduler;
    OnReceive public onReceive;
    uint256 public received;
    uint256 public receipts;
    bool public reentered;
    bytes public reentryRevert;

    constructor(IRebalanceScheduler scheduler_) {
        scheduler = scheduler_;
    }

    receive() external payable {
        if (onReceive == OnReceive.Reject) revert("no ETH");
        received += msg.value;
        ++receipts;
        if (onReceive == OnReceive.WithdrawAgain && receipts == 1) {
            try scheduler.withdrawCredit(payable(address(this))) returns (uint256) {
                reentered = true;
            } catch (bytes memory reason) {
                reentryRevert = reason;
            }
        }
    }

    function setOnReceive(OnReceive mode) external {
        onReceive = mode;
    }

    function execute(uint256 id) external {
        scheduler.execute(id);
    }

    function executeBatch(uint256[] calldata ids) external returns (uint256) {
        return scheduler.executeBatch(ids);
    }

    function withdraw(address payable to) external returns (uint256) {
        return scheduler.withdrawCredit(to);
    }
}
