// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ITxFunder
/// @notice The Sink/Source that pays for scheduled runs (Flow's txFunder): holds native currency;
/// its owner (or a manager the owner named, e.g. the PaidRebalancerRegistry) authorises spender
/// contracts with allowances; a spender withdraws fees within its allowance and sends refunds
/// back, which restores its allowance.
interface ITxFunder {
    event SpenderApproved(address indexed spender, uint256 allowance);
    event ManagerSet(address indexed manager, bool allowed);
    event FeeWithdrawn(address indexed spender, uint256 amount, uint256 balanceAfter);
    event RefundCredited(address indexed spender, uint256 amount, bool allowanceRestored);
    event Deposited(address indexed from, uint256 amount);
    event Withdrawn(address indexed to, uint256 amount);
    event RunwayParamsSet(uint256 expectedFeePerInterval, uint256 lowRunwayIntervals);
    event LowRunway(uint256 balance, uint256 runwayIntervals, uint256 threshold);

    error NotOwnerOrManager(address caller);
    error AllowanceExceeded(address spender, uint256 allowance, uint256 amount);
    error InsufficientFunderBalance(uint256 balance, uint256 amount);
    error TransferFailed(address to, uint256 amount);

    /// @notice Sets `spender`'s allowance (0 revokes it). Owner or a manager.
    function approveSpender(address spender, uint256 allowance) external;

    /// @notice Lets `manager` approve spenders. Owner only.
    function setManager(address manager, bool allowed) external;

    /// @notice Sends `amount` to the calling spender and lowers its allowance; emits LowRunway
    /// when the remaining runway falls below the threshold.
    function withdrawFee(uint256 amount) external;

    /// @notice Takes a refund back from a spender; restores its allowance by the amount when it
    /// is still authorised (a revoked spender's refund is kept without re-authorising it).
    function refund() external payable;

    /// @notice Owner takes native currency out.
    function withdraw(address payable to, uint256 amount) external;

    /// @notice Sets the fee expected per interval across all spenders and the LowRunway threshold
    /// (in intervals).
    function setRunwayParams(uint256 expectedFeePerInterval, uint256 lowRunwayIntervals) external;

    /// @notice Balance divided by the expected fee per interval (max uint when none is expected).
    function runway() external view returns (uint256 intervals);

    function allowance(address spender) external view returns (uint256);
    function isSpender(address spender) external view returns (bool);
    function isManager(address manager) external view returns (bool);
}
