// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {ReleaseLib} from "../libraries/ReleaseLib.sol";

/// @title FundTimelock
/// @notice OpenZeppelin's TimelockController, unchanged: holds DEFAULT_ADMIN_ROLE on the vault
/// and the controller so every risk-increasing change waits `minDelay` (0 on the local chain).
contract FundTimelock is TimelockController {
    /// @notice The contract release this code belongs to (ASCII in a bytes32, e.g. "0.2.0"): the
    /// keepers refuse to drive contracts of a release their ABIs do not belong to.
    bytes32 public constant RELEASE = ReleaseLib.RELEASE;

    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelay, proposers, executors, admin)
    {}
}
