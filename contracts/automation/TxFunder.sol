// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ITxFunder} from "../interfaces/ITxFunder.sol";

/// @title TxFunder
/// @notice Native-currency purse that pays scheduler fees for authorised rebalancers.
contract TxFunder is ITxFunder, Ownable2Step {
    /* STORAGE */

    mapping(address spender => uint256) public allowance;
    mapping(address spender => bool) public isSpender;
    mapping(address manager => bool) public isManager;
    uint256 public expectedFeePerInterval;
    uint256 public lowRunwayIntervals;

    /* CONSTRUCTOR */

    constructor(address owner_) Ownable(owner_) {}

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
        // Cannot underflow: checked against the allowance above.
        unchecked {
            allowance[msg.sender] = allowed - amount;
        }
        emit FeeWithdrawn(msg.sender, amount, balance - amount);
        _send(payable(msg.sender), amount);
        _checkRunway();
    }

    /// @inheritdoc ITxFunder
    function refund() external payable {
        bool restore = isSpender[msg.sender];
        if (restore) allowance[msg.sender] += msg.value;
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

    /* VIEWS */

    /// @inheritdoc ITxFunder
    function runway() public view returns (uint256) {
        uint256 expected = expectedFeePerInterval;
        return expected == 0 ? type(uint256).max : address(this).balance / expected;
    }

    /* INTERNAL */

    function _checkRunway() internal {
        uint256 intervals = runway();
        if (intervals < lowRunwayIntervals) emit LowRunway(address(this).balance, intervals, lowRunwayIntervals);
    }

    function _send(address payable to, uint256 amount) internal {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed(to, amount);
    }
}
