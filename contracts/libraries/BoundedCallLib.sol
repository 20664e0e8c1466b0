// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title BoundedCallLib
/// @notice Low-level calls into untrusted code that cannot hurt the caller: the gas is capped and
/// at most `maxReturn` bytes of returndata are copied, so a "return bomb" (a callee returning
/// megabytes to burn the caller's gas on memory expansion) costs the caller nothing.
library BoundedCallLib {
    /// @notice Calls `target` with `data`, forwarding at most `gasCap` gas and `value` wei.
    /// @return ok Whether the call succeeded.
    /// @return ret The first `maxReturn` bytes of the returndata (revert data when !ok).
    function call(address target, uint256 gasCap, uint256 value, bytes memory data, uint256 maxReturn)
        internal
        returns (bool ok, bytes memory ret)
    {
        assembly ("memory-safe") {
            ok := call(gasCap, target, value, add(data, 0x20), mload(data), 0, 0)
            let size := returndatasize()
            if gt(size, maxReturn) { size := maxReturn }
            ret := mload(0x40)
            mstore(ret, size)
            returndatacopy(add(ret, 0x20), 0, size)
            mstore(0x40, add(add(ret, 0x20), and(add(size, 0x1f), not(0x1f))))
        }
    }

    /// @notice Calls `target` with a bare 4-byte selector and reads one return word, copying
    /// nothing else. Cheapest isolated call for hot loops (the Supervisor's tick).
    /// @return ok Whether the call succeeded.
    /// @return returned Whether at least 32 bytes came back.
    /// @return word The first return word (0 when fewer than 32 bytes came back).
    function callSelector(address target, uint256 gasCap, bytes4 selector)
        internal
        returns (bool ok, bool returned, uint256 word)
    {
        assembly ("memory-safe") {
            mstore(0x00, selector)
            ok := call(gasCap, target, 0, 0x00, 0x04, 0x00, 0x00)
            returned := gt(returndatasize(), 0x1f)
            if returned {
                returndatacopy(0x00, 0x00, 0x20)
                word := mload(0x00)
            }
        }
    }
}
