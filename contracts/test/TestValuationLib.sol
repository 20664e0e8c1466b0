// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ValuationLib} from "../libraries/ValuationLib.sol";

/// @notice Test-only window on ValuationLib's pure rules (the top-3 sum the controller checks
/// after a call's purchases), so a test can hold them against a plain reference.
contract TestValuationLib {
    function top3(uint256[] memory values) external pure returns (uint256) {
        return ValuationLib.top3(values);
    }

    /// @notice The deploy legs' top-3 room (AssetController._top3Cut), for the keeper's mirror
    /// (keepers/fund/planning/top3.py) to be held against.
    function top3Room(uint256[] memory values, uint256 i, uint256 limit) external pure returns (uint256) {
        return ValuationLib.top3Room(values, i, limit);
    }
}
