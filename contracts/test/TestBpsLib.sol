// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {BpsLib} from "../libraries/BpsLib.sol";

/// @notice Test-only window on BpsLib and on the Math.mulDiv forms it must answer exactly as,
/// so a test can hold each against its reference at and around the 256-bit bounds.
contract TestBpsLib {
    function ratio(uint256 part, uint256 whole) external pure returns (uint256) {
        return BpsLib.ratio(part, whole);
    }

    function share(uint256 amount, uint256 bps) external pure returns (uint256) {
        return BpsLib.share(amount, bps);
    }

    function less(uint256 amount, uint256 bps) external pure returns (uint256) {
        return BpsLib.less(amount, bps);
    }

    function ratioRef(uint256 part, uint256 whole) external pure returns (uint256) {
        return whole == 0 ? 0 : Math.mulDiv(part, BpsLib.BPS, whole);
    }

    function shareRef(uint256 amount, uint256 bps) external pure returns (uint256) {
        return Math.mulDiv(amount, bps, BpsLib.BPS);
    }

    function lessRef(uint256 amount, uint256 bps) external pure returns (uint256) {
        return Math.mulDiv(amount, BpsLib.BPS - bps, BpsLib.BPS, Math.Rounding.Ceil);
    }
}
