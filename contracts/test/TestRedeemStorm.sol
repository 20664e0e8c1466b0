// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ITieredVault} from "../interfaces/ITieredVault.sol";

/// @notice Test-only attacker of the redemption queue (third review): holds a few vault shares
/// and makes request+cancel pairs in bulk, many per transaction, so a test can leave thousands
/// of cancelled requests in the queue in seconds. Requests and cancels are separate calls (a
/// request can be cancelled only CANCEL_DELAY after it was made). Never deployed by
/// production profiles.
contract TestRedeemStorm {
    ITieredVault public immutable vault;
    uint256[] public ids;
    uint256 public cancelled; // ids[0 .. cancelled) are cancelled

    constructor(ITieredVault vault_) {
        vault = vault_;
    }

    /// @notice `count` requests of `sharesEach` of this contract's shares.
    function request(uint256 sharesEach, uint256 count) external {
        for (uint256 i; i < count; ++i) {
            ids.push(vault.requestRedeem(sharesEach, address(this), address(this)));
        }
    }

    /// @notice Cancels up to `count` of the requests made, oldest first (their shares come back).
    function cancel(uint256 count) external {
        uint256 c = cancelled;
        uint256 end = c + count;
        if (end > ids.length) end = ids.length;
        for (; c < end; ++c) {
            vault.cancelRedeem(ids[c]);
        }
        cancelled = c;
    }

    function requestCount() external view returns (uint256) {
        return ids.length;
    }
}
