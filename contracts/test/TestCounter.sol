// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice Test-only counter used by the keeper pipeline tests: every effect the pipeline sends
/// is a `hit(id)`, so duplicates and losses are visible on-chain (`hits[id]` must end at 1).
contract TestCounter {
    /* ERRORS */

    /// @notice `id` is at or above the limit the test set; used to check revert decoding.
    error IdRejected(uint256 id, uint256 limit);

    /* EVENTS */

    event Hit(uint256 indexed id, uint256 hits, address indexed caller, uint256 value);

    /* STORAGE */

    uint256 public constant ID_LIMIT = 1_000_000_000;
    uint256 public count;
    mapping(uint256 id => uint256 hits) public hits;

    /* EXTERNAL */

    /// @notice Record one effect for `id` (payable so that value caps can be exercised).
    function hit(uint256 id) external payable {
        if (id >= ID_LIMIT) revert IdRejected(id, ID_LIMIT);
        count += 1;
        hits[id] += 1;
        emit Hit(id, hits[id], msg.sender, msg.value);
    }
}
