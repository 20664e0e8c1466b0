// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {InvariantBase} from "./support/InvariantBase.sol";
import {PriceStepLib} from "../../contracts/libraries/PriceStepLib.sol";

/// @notice Differential fuzz (issues 64 and 68): PriceStepLib.moveBps now asks OpenZeppelin's
/// `Math.mulDiv(d, BPS, ref, Rounding.Ceil)` where it had a hand-written ceil division,
/// `(d * BPS + ref - 1) / ref` in an unchecked block. halmos does not finish on mulDiv's
/// 512-bit path, so the two are held equal here instead, for every pair of raw feed answers
/// (each at most a uint128: a feed's maxAnswer, the library's stated domain), 0 included:
/// 256 runs in `make test`, 100,000 in `make test-deep`. Each fuzzed word is also shifted right
/// by a fuzzed amount, so that small answers, equal answers and answers orders of magnitude
/// apart are all drawn, not only uniform 128-bit words.
/// forge-config: default.fuzz.runs = 256
/// forge-config: deep.fuzz.runs = 100000
contract PriceStepDiff is InvariantBase {
    /// @dev The hand-written form moveBps had before (the plain code the shortcut replaced).
    function _plainMoveBps(uint256 ref, uint256 p) internal pure returns (uint256) {
        if (ref == 0 || p == 0) return 0;
        uint256 d = p > ref ? p - ref : ref - p;
        unchecked {
            return (d * 10_000 + ref - 1) / ref;
        }
    }

    function testFuzz_moveBps_equalsPlainCeil(uint256 ref, uint256 p, uint8 refShift, uint8 pShift) public pure {
        ref = uint256(uint128(ref)) >> (refShift % 128);
        p = uint256(uint128(p)) >> (pShift % 128);
        uint256 got = PriceStepLib.moveBps(ref, p);
        uint256 want = _plainMoveBps(ref, p);
        require(got == want, "moveBps differs from the hand-written ceil division");
    }

    /// @dev The edges a uniform draw rarely meets: the domain's top, a move of one unit, ref 1.
    function test_moveBps_edges_equalPlainCeil() public pure {
        uint256 top = type(uint128).max;
        uint256[7] memory v = [uint256(0), 1, 2, 9_999, 10_000, top - 1, top];
        for (uint256 i; i < v.length; ++i) {
            for (uint256 j; j < v.length; ++j) {
                require(PriceStepLib.moveBps(v[i], v[j]) == _plainMoveBps(v[i], v[j]), "edge differs");
            }
        }
    }
}
