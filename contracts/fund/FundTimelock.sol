// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title FundTimelock
/// @notice OpenZeppelin's TimelockController, unchanged: holds DEFAULT_ADMIN_ROLE on the vault
/// and the controller so every risk-increasing change waits `minDelay` (0 on the local chain).
contract FundTimelock is TimelockController {
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelay, proposers, executors, admin)
    {}
}
