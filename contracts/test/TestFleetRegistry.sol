// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IRebalanceScheduler} from "../interfaces/IRebalanceScheduler.sol";
import {IRebalanceTarget} from "../interfaces/IRebalanceTarget.sol";
import {IRecurringTask} from "../interfaces/IRecurringTask.sol";
import {ITxFunder} from "../interfaces/ITxFunder.sol";
import {Rebalancer} from "../automation/Rebalancer.sol";

/// @notice Registry double for large Supervisor tests: registers arbitrary contracts (including
/// misbehaving ones) and creates many real, booked Rebalancers per transaction.
contract TestFleetRegistry {
    mapping(uint256 => address) public rebalancerOf;
    mapping(uint256 => address) public ownerOf;
    uint256 public nextId = 1;

    function register(address rebalancer, address owner) public returns (uint256 id) {
        id = nextId++;
        rebalancerOf[id] = rebalancer;
        ownerOf[id] = owner;
    }

    function registerMany(address[] calldata items, address owner) external returns (uint256 firstId) {
        firstId = nextId;
        for (uint256 i; i < items.length; ++i) {
            register(items[i], owner);
        }
    }

    /// @notice Deploys `count` Rebalancers on `position`, authorises them on the funder (this
    /// contract must be its manager) and books each one's first run.
    function createRebalancers(
        uint256 count,
        IRebalanceScheduler scheduler,
        IRebalanceTarget position,
        IRecurringTask.RecurringConfig calldata config,
        address owner
    ) external returns (uint256 firstId) {
        firstId = nextId;
        for (uint256 i; i < count; ++i) {
            Rebalancer r = new Rebalancer(address(this), scheduler, position, config);
            ITxFunder(config.txFunder).approveSpender(address(r), type(uint256).max);
            r.fixReschedule();
            register(address(r), owner);
        }
    }
}
