// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {OracleLib} from "../libraries/OracleLib.sol";

/// @notice Test-only window on OracleLib.pow10, so a test can hold it against the checked
/// `10 ** e` it replaced (the same answer, or the same revert data).
contract TestOracleLib {
    function pow10(uint256 e) external pure returns (uint256) {
        return OracleLib.pow10(e);
    }

    function pow10Ref(uint256 e) external pure returns (uint256) {
        return 10 ** e;
    }

    /// @notice Each of the two on `e`: whether it answered, and its answer's or its revert's bytes.
    function both(uint256 e) external view returns (bool okFast, bytes memory fast, bool okRef, bytes memory ref) {
        try this.pow10(e) returns (uint256 r) {
            (okFast, fast) = (true, abi.encode(r));
        } catch (bytes memory data) {
            fast = data;
        }
        try this.pow10Ref(e) returns (uint256 r) {
            (okRef, ref) = (true, abi.encode(r));
        } catch (bytes memory data) {
            ref = data;
        }
    }
}
