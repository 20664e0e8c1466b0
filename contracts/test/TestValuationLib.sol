// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ValuationLib} from "../libraries/ValuationLib.sol";

/// @notice Test-only window on ValuationLib's pure rules (the top-3 sum the controller checks
/// after a call's purchases), so a test can hold them against a plain reference.
contract TestValuationLib {
    function top3(uint256[] memory values) external pure returns (uint256) {
        return ValuationLib.top3(values);
    }
}
