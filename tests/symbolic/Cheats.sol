// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice The few forge cheatcodes halmos implements that these proofs use (no forge-std in the
/// tree: see tests/invariant/support/InvariantBase.sol).
interface SymVm {
    function warp(uint256 timestamp) external;
    function prank(address sender) external;
    function assume(bool condition) external pure;
    function deal(address who, uint256 amount) external;
}

abstract contract SymTest {
    SymVm internal constant vm = SymVm(address(uint160(uint256(keccak256("hevm cheat code")))));
}

/// @notice halmos' own cheatcodes (at its `svm` address) that these proofs use.
interface Svm {
    /// @dev Every storage slot of `account` not yet written reads as an arbitrary value (any
    /// prior state, reachable or not).
    function enableSymbolicStorage(address account) external;
}

abstract contract SymStorage {
    Svm internal constant svm = Svm(address(uint160(uint256(keccak256("svm cheat code")))));
}
