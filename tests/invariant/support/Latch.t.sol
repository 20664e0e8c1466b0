// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {InvariantBase} from "./InvariantBase.sol";

/// @notice `CheatBase._latch`, which every handler's on-the-spot properties go through: a latch
/// that kept nothing would let every such invariant pass, so it is held to keeping the first
/// message whole (short and long strings: storage keeps them in two layouts) and only the first.
contract LatchSelfTest is InvariantBase {
    string internal _short;
    string internal _long;

    function test_latch_keepsTheFirstShortMessage() public {
        _latch(_short, "first");
        _latch(_short, "a later failure");
        require(keccak256(bytes(_short)) == keccak256("first"), "the latch did not keep the first message");
    }

    function test_latch_keepsTheFirstLongMessageWhole() public {
        string memory first = "a failure message longer than one storage word (32 bytes), kept whole";
        _latch(_long, first);
        _latch(_long, "later");
        require(keccak256(bytes(_long)) == keccak256(bytes(first)), "the latch did not keep a long message whole");
    }

    function test_latch_anEmptyMessageLeavesTheFlagOpen() public {
        _latch(_short, "");
        _latch(_short, "the real failure");
        require(keccak256(bytes(_short)) == keccak256("the real failure"), "an empty message closed the latch");
    }
}
