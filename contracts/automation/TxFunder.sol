// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ITxFunder} from "../interfaces/ITxFunder.sol";

/// @title TxFunder
/// @notice Native-currency purse that pays scheduler fees for authorised rebalancers.
contract TxFunder is ITxFunder, Ownable2Step {
    /* CONSTANTS */

    /// @notice Length of the rolling spend window.
    uint256 public constant WINDOW = 1 days;

    /* STORAGE */

    /// @dev The leaky bucket: fees counted against the cap as of `updatedAt` (one slot).
    struct Spent {
        uint128 amount;
        uint64 updatedAt;
    }

    mapping(address spender => uint256) public allowance;
    mapping(address spender => bool) public isSpender;
    mapping(address manager => bool) public isManager;
    uint256 public expectedFeePerInterval;
    uint256 public lowRunwayIntervals;
    /// @inheritdoc ITxFunder
    uint256 public spendCapPerWindow;
    Spent internal _spent;

    /* CONSTRUCTOR */

    /// @param spendCapPerWindow_ The most all spenders together may withdraw per rolling day.
    constructor(address owner_, uint256 spendCapPerWindow_) Ownable(owner_) {
        _setSpendCap(spendCapPerWindow_);
    }

    /// @notice Top-ups from anyone.
    receive() external payable {
        emit Deposited(msg.sender, msg.value);
    }

    /* SPENDERS */

    /// @inheritdoc ITxFunder
    function approveSpender(address spender, uint256 allowance_) external {
        if (msg.sender != owner() && !isManager[msg.sender]) revert NotOwnerOrManager(msg.sender);
        allowance[spender] = allowance_;
        isSpender[spender] = allowance_ != 0;
        emit SpenderApproved(spender, allowance_);
    }

    /// @inheritdoc ITxFunder
    function setManager(address manager, bool allowed) external onlyOwner {
        isManager[manager] = allowed;
        emit ManagerSet(manager, allowed);
    }

    /// @inheritdoc ITxFunder
    function withdrawFee(uint256 amount) external {
        uint256 allowed = allowance[msg.sender];
        if (amount > allowed) revert AllowanceExceeded(msg.sender, allowed, amount);
        uint256 balance = address(this).balance;
        if (amount > balance) revert InsufficientFunderBalance(balance, amount);
        uint256 spent = _spentNow();
        uint256 cap = spendCapPerWindow;
        // Cannot underflow: _spentNow() <= cap unless the owner lowered the cap (then 0 is left).
        uint256 available = spent >= cap ? 0 : cap - spent;
        if (amount > available) revert SpendCapExceeded(amount, available);
        // Cannot overflow: spent + amount <= cap <= 2^128 - 1; allowance checked above.
        unchecked {
            _spent = Spent({amount: uint128(spent + amount), updatedAt: uint64(block.timestamp)});
            allowance[msg.sender] = allowed - amount;
        }
        emit FeeWithdrawn(msg.sender, amount, balance - amount);
        _send(payable(msg.sender), amount);
        _checkRunway();
    }

    /// @inheritdoc ITxFunder
    function refund() external payable {
        bool restore = isSpender[msg.sender];
        if (restore) {
            uint256 allowed = allowance[msg.sender];
            // Saturates: an unlimited allowance (max uint) plus a refund or an ETH gift that
            // reaches the spender stays unlimited instead of overflowing (which blocked the
            // spender's reconfiguration and removal).
            allowance[msg.sender] = msg.value > type(uint256).max - allowed ? type(uint256).max : allowed + msg.value;
        }
        emit RefundCredited(msg.sender, msg.value, restore);
    }

    /* OWNER */

    /// @inheritdoc ITxFunder
    function withdraw(address payable to, uint256 amount) external onlyOwner {
        uint256 balance = address(this).balance;
        if (amount > balance) revert InsufficientFunderBalance(balance, amount);
        emit Withdrawn(to, amount);
        _send(to, amount);
        _checkRunway();
    }

    /// @inheritdoc ITxFunder
    function setRunwayParams(uint256 expectedFeePerInterval_, uint256 lowRunwayIntervals_) external onlyOwner {
        expectedFeePerInterval = expectedFeePerInterval_;
        lowRunwayIntervals = lowRunwayIntervals_;
        emit RunwayParamsSet(expectedFeePerInterval_, lowRunwayIntervals_);
    }

    /// @inheritdoc ITxFunder
    function setSpendCap(uint256 spendCapPerWindow_) external onlyOwner {
        // Settle the drain at the old rate before the rate changes.
        _spent = Spent({amount: uint128(_spentNow()), updatedAt: uint64(block.timestamp)});
        _setSpendCap(spendCapPerWindow_);
    }

    /* VIEWS */

    /// @inheritdoc ITxFunder
    function spentInWindow() external view returns (uint256) {
        return _spentNow();
    }

    /// @inheritdoc ITxFunder
    function availableToSpend() external view returns (uint256) {
        uint256 spent = _spentNow();
        uint256 cap = spendCapPerWindow;
        return spent >= cap ? 0 : cap - spent;
    }

    /// @inheritdoc ITxFunder
    function runway() public view returns (uint256) {
        uint256 expected = expectedFeePerInterval;
        return expected == 0 ? type(uint256).max : address(this).balance / expected;
    }

    /* INTERNAL */

    /// @dev `spent` after draining linearly at spendCapPerWindow per WINDOW since the last fee.
    function _spentNow() internal view returns (uint256) {
        Spent memory s = _spent;
        uint256 elapsed = block.timestamp - s.updatedAt;
        if (elapsed >= WINDOW) return 0;
        // Cannot overflow: cap < 2^128 and elapsed < 2^17.
        uint256 drained = spendCapPerWindow * elapsed / WINDOW;
        return drained >= s.amount ? 0 : s.amount - drained;
    }

    function _setSpendCap(uint256 cap) internal {
        if (cap == 0 || cap > type(uint128).max) revert InvalidSpendCap(cap);
        spendCapPerWindow = cap;
        emit SpendCapSet(cap);
    }

    function _checkRunway() internal {
        uint256 intervals = runway();
        if (intervals < lowRunwayIntervals) emit LowRunway(address(this).balance, intervals, lowRunwayIntervals);
    }

    function _send(address payable to, uint256 amount) internal {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed(to, amount);
    }
}
