// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ReleaseLib} from "../libraries/ReleaseLib.sol";

/// @title TestPlantedAdminModule (test double)
/// @notice What a deployer who plants code could name to the AssetController's constructor: it
/// answers the constructor's checks (this release, the vault) and nothing else is an
/// AssetControllerAdmin. Its delegatecalled code would run on the controller's storage; the
/// hand-over check (ballast_dev.deployment.handover) must not call such a deploy complete.
contract TestPlantedAdminModule {
    bytes32 public constant RELEASE = ReleaseLib.RELEASE;
    address public immutable moduleVault;

    constructor(address vault_) {
        moduleVault = vault_;
    }
}
