// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IChainlinkFeed
/// @notice The part of Chainlink's AggregatorV3Interface the keepers read: a feed's last answer
/// and when it was given (the fund keeper's `feed_down` alert names a feed and its age).
/// Declared here, not imported from Chainlink's npm package, so that `ape compile` writes its
/// ABI into the build and `make abis` can export it (dependency types are not in the build).
interface IChainlinkFeed {
    /// @notice The feed's answer's decimals.
    function decimals() external view returns (uint8);

    /// @notice The last round: its id, the answer, when it started and was updated, and the
    /// round it was answered in.
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
}
