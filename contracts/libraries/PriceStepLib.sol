// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {BpsLib} from "./BpsLib.sol";

/// @title PriceStepLib
/// @notice The valuation step bound's arithmetic (issue 54), shared by the controller's price
/// reads and its admin module's priceHold view so both judge an answer the same way.
/// @dev An answer `p` is held against a reference `ref` (both raw feed answers, each at most a
/// uint128: a feed's maxAnswer) when |p - ref| / ref exceeds `allowed` bps, where `allowed` is
/// stepBps + perDayBps * (seconds since the reference was set) / 1 day. The time term is what
/// lets a genuine restatement stand without anyone acting: a 15% step under a 5% + 1%/day
/// bound stands after 10 days (beyond 5% + 1% * 10 = 15% it is no longer exceeded).
library PriceStepLib {
    /// @notice The bound in bps `elapsed` seconds after the reference was set.
    function allowedBps(uint256 stepBps, uint256 perDayBps, uint256 elapsed) internal pure returns (uint256) {
        // cannot overflow: a uint16 times a uint32-ish elapsed (block time less a uint32 time)
        unchecked {
            return stepBps + perDayBps * elapsed / 1 days;
        }
    }

    /// @notice Whether `p` lies further than `allowed` bps from `ref` (a non-zero reference).
    function beyond(uint256 ref, uint256 p, uint256 allowed) internal pure returns (bool) {
        uint256 d = p > ref ? p - ref : ref - p;
        // cannot overflow: d and ref are below 2^128, BPS below 2^14, allowed below 2^80
        unchecked {
            return d * BpsLib.BPS > ref * allowed;
        }
    }

    /// @notice |p - ref| in bps of `ref`, rounded up (0 when either is 0): what priceHold reports.
    function moveBps(uint256 ref, uint256 p) internal pure returns (uint256) {
        if (ref == 0 || p == 0) return 0;
        uint256 d = p > ref ? p - ref : ref - p;
        return Math.mulDiv(d, BpsLib.BPS, ref, Math.Rounding.Ceil);
    }
}
