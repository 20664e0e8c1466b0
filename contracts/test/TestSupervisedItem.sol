// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice A misbehaving "rebalancer" for Supervisor isolation tests: its fixReschedule reverts,
/// burns all its gas, return-bombs, or answers a word chosen by the test.
contract TestSupervisedItem {
    enum Mode {
        Answer,
        Revert,
        BurnGas,
        ReturnBomb
    }

    Mode public immutable mode;
    uint256 public answer;

    constructor(Mode mode_, uint256 answer_) {
        mode = mode_;
        answer = answer_;
    }

    function fixReschedule() external returns (uint256) {
        if (mode == Mode.Revert) revert("item broken");
        if (mode == Mode.BurnGas) {
            while (true) {}
        }
        if (mode == Mode.ReturnBomb) {
            assembly {
                return(0, 1000000)
            }
        }
        return answer;
    }
}
