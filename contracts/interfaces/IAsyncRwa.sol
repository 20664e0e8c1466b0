// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IAsyncRwa
/// @notice An RWA issuer's subscription and redemption desk: requests settle after a notice
/// period; redemptions may only be requested while a redemption window is open.
interface IAsyncRwa {
    /// @notice The cash asset subscriptions are paid in and redemptions pay out.
    function asset() external view returns (address);

    /// @notice Pulls `assets` cash from the caller; tokens are claimable after the notice period.
    function requestSubscription(uint256 assets) external returns (uint256 id);

    /// @notice Pulls `shares` tokens from the caller; cash is claimable after the notice period.
    /// Reverts outside a redemption window.
    function requestRedemption(uint256 shares) external returns (uint256 id);

    /// @notice Settles request `id` (by its requester), sending tokens or cash to the caller.
    function claim(uint256 id) external returns (uint256 out);

    /// @notice Whether request `id` can be claimed now.
    function isClaimable(uint256 id) external view returns (bool);

    /// @notice Whether a redemption request would be accepted now.
    function redemptionWindowOpen() external view returns (bool);

    /// @notice Start of the next redemption window (now if one is open).
    function nextWindowOpensAt() external view returns (uint256);

    /// @notice Seconds from a request to its settlement: a request filed now is claimable no
    /// later than now plus this. An issuer that settles on a calendar (a dealing day) answers
    /// the longest wait a request filed now can have; the fund's exit horizon (FundLens) counts
    /// a position as paid only after it.
    function noticePeriod() external view returns (uint256);
}
