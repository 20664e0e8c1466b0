// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title BpsLib
/// @notice Basis-point helpers for tier and concentration math.
/// @dev Each answers exactly what Math.mulDiv answers for every input (and reverts where it
/// does), but computes the product in 256 bits where it provably fits, skipping mulDiv's
/// 512-bit path (about 300 gas a call; the controller's moves make several per leg).
/// tests/contracts/fund/test_bps_lib.py holds each against mulDiv at and around the bounds.
library BpsLib {
    uint256 internal constant BPS = 10_000;

    /// @notice `part` as a share of `whole` in bps, rounded down; 0 when `whole` is 0.
    function ratio(uint256 part, uint256 whole) internal pure returns (uint256) {
        if (whole == 0) return 0;
        // below 2^242, part * BPS < 2^256 (BPS < 2^14)
        if (part < 1 << 242) {
            unchecked {
                return part * BPS / whole;
            }
        }
        return Math.mulDiv(part, BPS, whole);
    }

    /// @notice `bps` of `amount`, rounded down.
    function share(uint256 amount, uint256 bps) internal pure returns (uint256) {
        // both below 2^128: the product fits
        if ((amount | bps) < 1 << 128) {
            unchecked {
                return amount * bps / BPS;
            }
        }
        return Math.mulDiv(amount, bps, BPS);
    }

    /// @notice `amount` less `bps` of it, rounded up (the minimum acceptable out).
    function less(uint256 amount, uint256 bps) internal pure returns (uint256) {
        uint256 keep = BPS - bps; // checked: a bps above BPS reverts, as it did
        // below 2^242, amount * keep + BPS - 1 < 2^256 (keep <= BPS < 2^14)
        if (amount < 1 << 242) {
            unchecked {
                return (amount * keep + (BPS - 1)) / BPS;
            }
        }
        return Math.mulDiv(amount, keep, BPS, Math.Rounding.Ceil);
    }
}
