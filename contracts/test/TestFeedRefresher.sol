// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TestPriceFeed} from "./TestPriceFeed.sol";

/// @notice Test-only: every listed TestPriceFeed re-reports its current answer in one
/// transaction (a new round at this block's time, as live feeds report after a time warp).
/// The same calls the tests made one transaction per feed; one transaction instead of one per
/// feed keeps a test's many warps cheap. Never deployed by production profiles.
contract TestFeedRefresher {
    function refresh(TestPriceFeed[] calldata feeds) external {
        for (uint256 i; i < feeds.length; ++i) {
            feeds[i].updateAnswer(feeds[i].latestAnswer());
        }
    }
}
