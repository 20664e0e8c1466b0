// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {MockV3Aggregator} from "@chainlink/contracts/src/v0.8/tests/MockV3Aggregator.sol";

/// @notice Test-only Chainlink feed: Chainlink's own MockV3Aggregator (AggregatorV2V3Interface),
/// with updateAnswer(int256) and updateRoundData(roundId, answer, timestamp, startedAt) to
/// simulate moves and staleness. Never deployed by production profiles.
contract TestPriceFeed is MockV3Aggregator {
    constructor(uint8 decimals_, int256 initialAnswer) MockV3Aggregator(decimals_, initialAnswer) {}
}
