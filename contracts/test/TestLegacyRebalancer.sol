// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title TestLegacyRebalancer
/// @notice A rebalancer as contracts older than release 0.1.0 built it: a position and no
/// `trustedTarget()`. The executor's held-feed safeguard cannot class it as a fund rebalancer,
/// and says so once (tests/offchain/release/test_keeper_release.py).
contract TestLegacyRebalancer {
    address public immutable position;

    constructor(address position_) {
        position = position_;
    }
}
