// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ITxFunder
/// @notice The Sink/Source that pays for scheduled runs (Flow's txFunder): holds native currency;
/// its owner (or a manager the owner named, e.g. the PaidRebalancerRegistry) authorises spender
/// contracts with allowances; a spender withdraws fees within its allowance and sends refunds
/// back, which restores its allowance.
///
/// Spend cap (issue 11): whatever the allowances, `withdrawFee` pays out at most
/// `spendCapPerWindow` per rolling WINDOW (1 day). The cap is a leaky bucket: every fee adds to
/// `spent`, which drains linearly at `spendCapPerWindow` per WINDOW, and a fee that would take
/// `spent` above the cap reverts with SpendCapExceeded. So over any 24 hours the spenders
/// together take at most 2 x spendCapPerWindow (a full bucket, then its refill), and over n days
/// at most (n + 1) x spendCapPerWindow: the worst case of a stolen manager (registry owner,
/// creator) key or of a flood of spenders. Only the owner sets the cap; it is set at deploy.
/// Refunds do not lower `spent` (so cancel-and-rebook cannot be used to cycle past the cap).
///
/// Reserve (third review): `reserve` of the cap is kept for the spenders the owner marks
/// reserved (the fund's own rebalancer and the supervisor). Every other spender (each paid
/// rebalancer) is refused once its fee would take `spent` above `cap - reserve`, so whatever
/// paid positions do, the reserved spenders find at least `reserve` less their own undrained fees
/// under the cap, and all other spenders together take at most 2 x (cap - reserve) per rolling
/// day. Only the owner marks spenders reserved (a manager cannot) and sets the reserve.
interface ITxFunder {
    event SpenderApproved(address indexed spender, uint256 allowance);
    event ManagerSet(address indexed manager, bool allowed);
    event FeeWithdrawn(address indexed spender, uint256 amount, uint256 balanceAfter);
    event RefundCredited(address indexed spender, uint256 amount, bool allowanceRestored);
    event Deposited(address indexed from, uint256 amount);
    event Withdrawn(address indexed to, uint256 amount);
    event RunwayParamsSet(uint256 expectedFeePerInterval, uint256 lowRunwayIntervals);
    event LowRunway(uint256 balance, uint256 runwayIntervals, uint256 threshold);
    event SpendCapSet(uint256 spendCapPerWindow);
    event ReserveSet(uint256 reserve);
    event ReservedSpenderSet(address indexed spender, bool reserved);

    error NotOwnerOrManager(address caller);
    error AllowanceExceeded(address spender, uint256 allowance, uint256 amount);
    error InsufficientFunderBalance(uint256 balance, uint256 amount);
    error TransferFailed(address to, uint256 amount);
    error SpendCapExceeded(uint256 amount, uint256 available);
    error InvalidSpendCap(uint256 spendCapPerWindow);
    error ReserveAboveCap(uint256 reserve, uint256 spendCapPerWindow);

    /// @notice Sets `spender`'s allowance (0 revokes it). Owner or a manager.
    function approveSpender(address spender, uint256 allowance) external;

    /// @notice Lets `manager` approve spenders. Owner only.
    function setManager(address manager, bool allowed) external;

    /// @notice Sends `amount` to the calling spender and lowers its allowance; emits LowRunway
    /// when the remaining runway falls below the threshold. Reverts with SpendCapExceeded when
    /// the rolling-day spend cap has less than `amount` left.
    function withdrawFee(uint256 amount) external;

    /// @notice Takes a refund back from a spender; restores its allowance by the amount when it
    /// is still authorised (a revoked spender's refund is kept without re-authorising it). An
    /// unlimited (max uint) allowance stays unlimited: the credit saturates, it never overflows.
    function refund() external payable;

    /// @notice Owner: the most the spenders together may withdraw per rolling WINDOW (> 0, at
    /// most 2^96 - 1, about 7.9e28 wei). Lowering it below what was already spent blocks fees until it drains.
    function setSpendCap(uint256 spendCapPerWindow) external;

    /// @notice Fees counted against the cap now (after the linear drain since the last fee).
    function spentInWindow() external view returns (uint256);

    /// @notice What withdrawFee may still pay out now under the cap to a reserved spender
    /// (ignoring the balance).
    function availableToSpend() external view returns (uint256);

    /// @notice What withdrawFee may still pay out now under the cap to `spender` (the whole cap
    /// for a reserved spender, `cap - reserve` for any other), ignoring allowance and balance.
    function availableTo(address spender) external view returns (uint256);

    /// @notice Owner: the part of the cap only reserved spenders may use (at most the cap; 0
    /// shares the whole cap). Lowering the cap below the reserve reverts with ReserveAboveCap.
    function setReserve(uint256 reserve) external;

    /// @notice Owner only (not a manager): marks `spender` as one of the fund's own (may use the
    /// reserve).
    function setReservedSpender(address spender, bool reserved) external;

    function reserve() external view returns (uint256);
    function isReserved(address spender) external view returns (bool);

    function spendCapPerWindow() external view returns (uint256);

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
