// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title OracleLib
/// @notice Reads Chainlink AggregatorV3 feeds with staleness (per-feed heartbeat) and sanity
/// bounds, and converts token amounts to base-asset amounts (and back) across decimals.
/// @dev Feeds quote one whole token in units of the base stablecoin (taken as $1).
library OracleLib {
    /// @notice A feed configuration, packed into two slots.
    struct Feed {
        AggregatorV3Interface feed;
        uint32 heartbeat; // max seconds since updatedAt
        uint8 feedDecimals;
        uint8 tokenDecimals;
        uint128 minAnswer; // inclusive sanity bounds on the raw answer
        uint128 maxAnswer;
    }

    /// @notice The feed's last update is older than its heartbeat.
    error StalePrice(address feed, uint256 updatedAt, uint256 heartbeat);
    /// @notice The feed answered outside its sanity bounds (or non-positive).
    error PriceOutOfBounds(address feed, int256 answer, uint256 minAnswer, uint256 maxAnswer);
    /// @notice The feed's round is incomplete (answeredInRound < roundId).
    error IncompleteRound(address feed, uint80 roundId, uint80 answeredInRound);

    /// @notice The L2 sequencer-uptime feed says the sequencer is down (answer 1).
    error SequencerDown(address feed);
    /// @notice The sequencer is back up since `upSince`, within the grace period.
    error SequencerGracePeriod(address feed, uint256 upSince, uint256 gracePeriod);

    /// @notice Reverts while an L2 sequencer is down or back up for less than `grace` seconds
    /// (Chainlink's sequencer-uptime feed: answer 0 = up, startedAt = when that status began).
    /// @dev `feed` zero: no check (L1 deployments).
    function checkSequencer(address feed, uint256 grace) internal view {
        if (feed == address(0)) return;
        (, int256 answer, uint256 startedAt,,) = AggregatorV3Interface(feed).latestRoundData();
        if (answer != 0) revert SequencerDown(feed);
        if (block.timestamp < startedAt + grace) revert SequencerGracePeriod(feed, startedAt, grace);
    }

    /// @notice The checked raw answer of `f`.
    function price(Feed memory f) internal view returns (uint256) {
        (uint80 roundId, int256 answer,, uint256 updatedAt, uint80 answeredInRound) = f.feed.latestRoundData();
        if (answeredInRound < roundId) revert IncompleteRound(address(f.feed), roundId, answeredInRound);
        if (updatedAt + f.heartbeat < block.timestamp) revert StalePrice(address(f.feed), updatedAt, f.heartbeat);
        if (answer <= 0 || uint256(answer) < f.minAnswer || uint256(answer) > f.maxAnswer) {
            revert PriceOutOfBounds(address(f.feed), answer, f.minAnswer, f.maxAnswer);
        }
        return uint256(answer);
    }

    /// @notice Like price() but never reverts: `ok` is false (and `p` 0) where price() would
    /// revert (stale, incomplete round, out of bounds) or where the feed itself reverts.
    /// @dev Used by valuation views, which must not revert (EIP-4626 totalAssets / max*).
    function tryPrice(Feed memory f) internal view returns (bool ok, uint256 p) {
        try f.feed.latestRoundData() returns (
            uint80 roundId, int256 answer, uint256, uint256 updatedAt, uint80 answeredInRound
        ) {
            if (answeredInRound < roundId || updatedAt + f.heartbeat < block.timestamp) return (false, 0);
            if (answer <= 0 || uint256(answer) < f.minAnswer || uint256(answer) > f.maxAnswer) return (false, 0);
            return (true, uint256(answer));
        } catch {
            return (false, 0);
        }
    }

    /// @notice Value in base units of `amount` token units at `p` (a raw answer of `f`), rounded down.
    function toBase(Feed memory f, uint256 amount, uint256 p, uint8 baseDecimals) internal pure returns (uint256) {
        return Math.mulDiv(amount * p, pow10(baseDecimals), pow10(uint256(f.feedDecimals) + f.tokenDecimals));
    }

    /// @notice Token units worth `value` base units at `p`, rounded as asked.
    function toToken(Feed memory f, uint256 value, uint256 p, uint8 baseDecimals, Math.Rounding r)
        internal
        pure
        returns (uint256)
    {
        return Math.mulDiv(value, pow10(uint256(f.feedDecimals) + f.tokenDecimals), p * pow10(baseDecimals), r);
    }

    /// @notice 10 ** `e`, reverting as the checked `10 ** e` does past uint256 (Panic 0x11 from
    /// e = 78): one EXP, in place of the compiler's generic checked exponentiation (the
    /// EIP-170 size limit).
    function pow10(uint256 e) internal pure returns (uint256 r) {
        assembly ("memory-safe") {
            if gt(e, 77) {
                mstore(0, 0x4e487b71) // Panic(uint256)
                mstore(0x20, 0x11) // arithmetic overflow
                revert(28, 36)
            }
            r := exp(10, e)
        }
    }
}
