// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice Test-only feed without rounds, modelled on RedStone's PriceFeedWithoutRounds: every
/// answer is round 1 (latestRoundData's roundId and answeredInRound, latestRound()), and a push
/// changes only the answer and its timestamps. Chainlink-compatible on the reads the fund makes,
/// so OracleLib accepts it; it exists to prove that no price trusts a round id. The same update
/// functions as TestPriceFeed (MockV3Aggregator), so a test drives either kind alike; the round
/// id they are given is ignored. Never deployed by production profiles.
contract TestRoundlessFeed {
    uint80 private constant _ROUND = 1;

    uint8 public immutable decimals;
    int256 public latestAnswer;
    uint256 public latestTimestamp;
    uint256 private _startedAt;

    constructor(uint8 decimals_, int256 initialAnswer) {
        decimals = decimals_;
        updateAnswer(initialAnswer);
    }

    /// @notice A push: a new answer at this block's time, still round 1.
    function updateAnswer(int256 answer) public {
        updateRoundData(_ROUND, answer, block.timestamp, block.timestamp);
    }

    /// @notice A push with chosen timestamps (staleness); the round id given is ignored.
    function updateRoundData(uint80, int256 answer, uint256 timestamp, uint256 startedAt) public {
        (latestAnswer, latestTimestamp, _startedAt) = (answer, timestamp, startedAt);
    }

    function latestRound() external pure returns (uint256) {
        return _ROUND;
    }

    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return (_ROUND, latestAnswer, _startedAt, latestTimestamp, _ROUND);
    }

    /// @notice Like RedStone's: only the latest round exists.
    function getRoundData(uint80 roundId)
        external
        view
        returns (uint80, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        require(roundId == _ROUND, "TestRoundlessFeed: only round 1");
        return (_ROUND, latestAnswer, _startedAt, latestTimestamp, _ROUND);
    }

    function description() external pure returns (string memory) {
        return "TestRoundlessFeed";
    }

    function version() external pure returns (uint256) {
        return 1;
    }
}
