// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ITxFunder} from "../interfaces/ITxFunder.sol";
import {ReleaseLib} from "../libraries/ReleaseLib.sol";

/// @title TxFunder
/// @notice Native-currency purse that pays scheduler fees for authorised rebalancers.
contract TxFunder is ITxFunder, Ownable2Step {
    /// @notice The contract release this code belongs to (ASCII in a bytes32, e.g. "0.2.0"): the
    /// keepers refuse to drive contracts of a release their ABIs do not belong to.
    bytes32 public constant RELEASE = ReleaseLib.RELEASE;

    /* CONSTANTS */

    /// @notice Length of the rolling spend window.
    uint256 public constant WINDOW = 1 days;

    /* STORAGE */

    /// @dev The cap and the leaky bucket in one slot (a fee reads and writes one word): fees
    /// counted against the cap as of `updatedAt`.
    struct Window {
        uint96 cap;
        uint96 spent;
        uint64 updatedAt;
    }

    mapping(address spender => uint256) public allowance;
    mapping(address spender => bool) public isSpender;
    mapping(address manager => bool) public isManager;
    uint256 public expectedFeePerInterval;
    uint256 public lowRunwayIntervals;
    Window internal _window;
    /// @inheritdoc ITxFunder
    uint256 public reserve;
    /// @inheritdoc ITxFunder
    mapping(address spender => bool) public isReserved;

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
        Window memory w = _window;
        uint256 spent = _spentNow(w);
        uint256 available = _available(w.cap, spent, msg.sender);
        if (amount > available) revert SpendCapExceeded(amount, available);
        // Cannot overflow: spent + amount <= cap < 2^96; allowance checked above.
        unchecked {
            _window = Window({cap: w.cap, spent: uint96(spent + amount), updatedAt: uint64(block.timestamp)});
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
        Window memory w = _window;
        _window = Window({cap: w.cap, spent: uint96(_spentNow(w)), updatedAt: uint64(block.timestamp)});
        _setSpendCap(spendCapPerWindow_);
    }

    /// @inheritdoc ITxFunder
    function setReserve(uint256 reserve_) external onlyOwner {
        uint256 cap = _window.cap;
        if (reserve_ > cap) revert ReserveAboveCap(reserve_, cap);
        reserve = reserve_;
        emit ReserveSet(reserve_);
    }

    /// @inheritdoc ITxFunder
    function setReservedSpender(address spender, bool reserved) external onlyOwner {
        isReserved[spender] = reserved;
        emit ReservedSpenderSet(spender, reserved);
    }

    /* VIEWS */

    /// @inheritdoc ITxFunder
    function spentInWindow() external view returns (uint256) {
        return _spentNow(_window);
    }

    /// @inheritdoc ITxFunder
    function spendCapPerWindow() external view returns (uint256) {
        return _window.cap;
    }

    /// @inheritdoc ITxFunder
    function availableToSpend() external view returns (uint256) {
        Window memory w = _window;
        uint256 spent = _spentNow(w);
        return spent >= w.cap ? 0 : w.cap - spent;
    }

    /// @inheritdoc ITxFunder
    function availableTo(address spender) external view returns (uint256) {
        Window memory w = _window;
        return _available(w.cap, _spentNow(w), spender);
    }

    /// @inheritdoc ITxFunder
    function runway() public view returns (uint256) {
        uint256 expected = expectedFeePerInterval;
        return expected == 0 ? type(uint256).max : address(this).balance / expected;
    }

    /* INTERNAL */

    /// @dev `spent` after draining linearly at spendCapPerWindow per WINDOW since the last fee.
    function _spentNow(Window memory w) internal view returns (uint256) {
        uint256 elapsed = block.timestamp - w.updatedAt;
        if (elapsed >= WINDOW) return 0;
        uint256 drained = uint256(w.cap) * elapsed / WINDOW;
        return drained >= w.spent ? 0 : w.spent - drained;
    }

    /// @dev What `spender` may still take under the cap: a reserved spender up to the cap, any
    /// other up to `cap - reserve` (so it never eats into the reserve).
    function _available(uint256 cap, uint256 spent, address spender) internal view returns (uint256) {
        if (!isReserved[spender]) {
            uint256 r = reserve;
            cap = r >= cap ? 0 : cap - r;
        }
        return spent >= cap ? 0 : cap - spent;
    }

    function _setSpendCap(uint256 cap) internal {
        if (cap == 0 || cap > type(uint96).max) revert InvalidSpendCap(cap);
        if (cap < reserve) revert ReserveAboveCap(reserve, cap);
        _window.cap = uint96(cap);
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
