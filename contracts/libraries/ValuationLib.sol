// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {OracleLib} from "./OracleLib.sol";
import {BpsLib} from "./BpsLib.sol";

/// @title ValuationLib
/// @notice The fund's valuation rules, shared by the AssetController (which prices users and
/// guards moves with them) and the FundLens (which reports them to keepers).
library ValuationLib {
    using OracleLib for OracleLib.Feed;

    /// @notice Value of a position of `units` tokens plus `pendingCash` base units, never
    /// reverting on the feed: an empty position is not priced (`p` = 0), and when the feed is
    /// down (stale, out of bounds, reverting) the tokens count as zero and `down` is set, so
    /// one bad feed cannot freeze the fund's exits.
    function positionValue(OracleLib.Feed memory f, uint256 units, uint256 pendingCash, uint8 baseDecimals)
        internal
        view
        returns (uint256 v, uint256 p, bool down)
    {
        v = pendingCash;
        if (units == 0) return (v, 0, false);
        bool ok;
        (ok, p) = f.tryPrice();
        if (ok) v += f.toBase(units, p, baseDecimals);
        else down = true;
    }

    /// @notice A position of at most a millionth of one token (1 unit for a token of 6 decimals
    /// or fewer): dust, whatever its price.
    function isTokenDust(uint256 units, uint8 tokenDecimals) internal pure returns (bool) {
        return tokenDecimals <= 6 ? units <= 1 : units <= OracleLib.pow10(tokenDecimals - 6);
    }

    /// @notice The three largest values' share of `gross`, in bps (the top-3 concentration
    /// guard's measure; 0 when `gross` is 0).
    function top3Bps(uint256[] memory values, uint256 gross) internal pure returns (uint256) {
        return BpsLib.ratio(top3(values), gross);
    }

    /// @notice The sum of the three largest values.
    function top3(uint256[] memory values) internal pure returns (uint256) {
        (uint256 a, uint256 b, uint256 c) = _top3Of(values, type(uint256).max);
        return a + b + c;
    }

    /// @notice How much `values[i]` can grow by before the three largest values sum past
    /// `limit` (SEC5-03: a deploy leg is cut there, never the whole move reverted). With a, b, c
    /// the three largest of the others, the three largest after a growth x sum to
    /// max(a + b + c, a + b + values[i] + x): within the limit iff a + b + c <= limit and
    /// x <= limit - a - b - values[i]. 0 when the others alone are past it. In assembly for the
    /// controller's size limit: `i` indexes `values`; cannot overflow: every value is a sum of
    /// uint128 amounts.
    function top3Room(uint256[] memory values, uint256 i, uint256 limit) internal pure returns (uint256 room) {
        (uint256 a, uint256 b, uint256 c) = _top3Of(values, i);
        assembly ("memory-safe") {
            let used := add(add(a, b), mload(add(add(values, 0x20), shl(5, i))))
            if and(iszero(gt(add(add(a, b), c), limit)), lt(used, limit)) { room := sub(limit, used) }
        }
    }

    /// @dev The three largest values a >= b >= c, leaving out index `skip` (none: past the end).
    /// One pass, in assembly: the controller checks top-3 once after a call's last purchase
    /// (AssetController._checkBuys; it was after every purchase, where the checked Solidity
    /// loop cost ~5k gas a check at 16 assets) and sizes each deploy leg's room by it; the
    /// loop reads only the array's own words.
    function _top3Of(uint256[] memory values, uint256 skip) private pure returns (uint256 a, uint256 b, uint256 c) {
        assembly ("memory-safe") {
            let p := add(values, 0x20)
            let q := 0 // the skipped word's address (none: 0, never an element's)
            if lt(skip, mload(values)) { q := add(p, shl(5, skip)) }
            for { let end := add(p, shl(5, mload(values))) } lt(p, end) { p := add(p, 0x20) } {
                let v := mload(p)
                if eq(p, q) { v := 0 }
                // v > c: it enters the three; above b it pushes b down; above a it leads
                if gt(v, c) {
                    switch gt(v, b)
                    case 0 { c := v }
                    default {
                        c := b
                        switch gt(v, a)
                        case 0 { b := v }
                        default {
                            b := a
                            a := v
                        }
                    }
                }
            }
        }
    }
}
