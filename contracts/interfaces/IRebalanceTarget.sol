// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IRebalanceTarget
/// @notice Anything a recurring rebalancer can drive: the fund's AssetController, the
/// PortfolioRebalancer. Implementations restrict who may call it (least privilege).
interface IRebalanceTarget {
    /// @notice Moves the position toward its targets.
    /// @param force When false, a position already inside its bands does nothing; when true it
    /// moves toward target regardless.
    /// @return moved True when anything was moved.
    /// @dev A target may return a second word (the AssetController does: "a leg was cut at its
    /// price bound and I am still out of band"); a Rebalancer reads it, and a RebalanceHeld()
    /// revert, only from a target its owner flagged trusted.
    function rebalance(bool force) external returns (bool moved);
}
