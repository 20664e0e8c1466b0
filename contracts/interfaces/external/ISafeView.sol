// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ISafeView
/// @notice The views of a Safe (1.4.1, `@safe-global/safe-contracts`) the fund keeper reads:
/// who the current owners are and how many must sign. The keeper stores the owners as the
/// admins of a plan that waits for approval and counts only their signatures (issue 15).
/// Declared here so that `ape compile` writes its ABI into the build for `make abis`.
interface ISafeView {
    /// @notice The current owners, in the Safe's linked-list order.
    function getOwners() external view returns (address[] memory);

    /// @notice Whether `owner` is a current owner.
    function isOwner(address owner) external view returns (bool);

    /// @notice Owner signatures a Safe transaction needs.
    function getThreshold() external view returns (uint256);
}
