// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title BpsLib
/// @notice Basis-point helpers for tier and concentration math.
library BpsLib {
    uint256 internal constant BPS = 10_000;

    /// @notice `part` as a share of `whole` in bps, rounded down; 0 when `whole` is 0.
    function ratio(uint256 part, uint256 whole) internal pure returns (uint256) {
        return whole == 0 ? 0 : Math.mulDiv(part, BPS, whole);
    }

    /// @notice `bps` of `amount`, rounded down.
    function share(uint256 amount, uint256 bps) internal pure returns (uint256) {
        return Math.mulDiv(amount, bps, BPS);
    }

    /// @notice `amount` less `bps` of it, rounded up (the minimum acceptable out).
    function less(uint256 amount, uint256 bps) internal pure returns (uint256) {
        return Math.mulDiv(amount, BPS - bps, BPS, Math.Rounding.Ceil);
    }
}
