// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {ReleaseLib} from "../libraries/ReleaseLib.sol";

/// @title FundTimelock
/// @notice OpenZeppelin's TimelockController (it holds DEFAULT_ADMIN_ROLE on the vault and the
/// controller so every risk-increasing change waits `minDelay`, 0 on the local chain) with two
/// promises to holders added (issue 67):
/// - an operation is executable for `EXECUTION_WINDOW` after it becomes ready, no longer: past
///   `readyAt + EXECUTION_WINDOW` `execute` reverts `TimelockOperationExpired` and the operation
///   reads as unset, so it must be scheduled again (same id allowed) and wait its delay again.
///   A change queued in a crisis and forgotten cannot be executed months later by surprise.
/// - `cancellers` (the guardian) get CANCELLER_ROLE at deploy: a queued change can be vetoed at
///   once by the key that can only reduce risk, beside the proposers (OpenZeppelin grants them
///   the role too).
/// @dev `getTimestamp` still returns an expired operation's old ready time (OpenZeppelin's raw
/// value); `getOperationState` (and so isOperation, isOperationPending, isOperationReady) says
/// `Unset` for it, which is what lets `schedule` take the same id again.
contract FundTimelock is TimelockController {
    /// @notice The contract release this code belongs to (ASCII in a bytes32, e.g. "0.2.0"): the
    /// keepers refuse to drive contracts of a release their ABIs do not belong to.
    bytes32 public constant RELEASE = ReleaseLib.RELEASE;

    /// @notice How long a ready operation stays executable (docs/trust-model.md argues 14 days:
    /// twice Superform's 7-day expiry, so a 2-of-3 Safe whose owners travel can still execute
    /// a change it meant, while no change outlives the quarter it was queued for).
    uint256 public constant EXECUTION_WINDOW = 14 days;

    /// @notice Operation `id` became executable at `readyAt` and stopped being so after
    /// `expiredAt` (readyAt + EXECUTION_WINDOW): schedule it again.
    error TimelockOperationExpired(bytes32 id, uint256 readyAt, uint256 expiredAt);

    constructor(
        uint256 minDelay,
        address[] memory proposers,
        address[] memory executors,
        address admin,
        address[] memory cancellers
    ) TimelockController(minDelay, proposers, executors, admin) {
        for (uint256 i = 0; i < cancellers.length; ++i) {
            _grantRole(CANCELLER_ROLE, cancellers[i]);
        }
    }

    /// @notice True when operation `id` was scheduled, never executed nor cancelled, and its
    /// execution window has passed (block.timestamp > readyAt + EXECUTION_WINDOW).
    function isOperationExpired(bytes32 id) public view returns (bool) {
        uint256 readyAt = getTimestamp(id);
        // readyAt <= block.timestamp first: the subtraction cannot underflow, and a ready time
        // far in the future (a huge delay) never overflows an addition
        return readyAt > DONE_TIMESTAMP && readyAt <= block.timestamp
            && block.timestamp - readyAt > EXECUTION_WINDOW;
    }

    /// @notice OpenZeppelin's state, with an expired operation read as `Unset` (not pending,
    /// not ready: it can be scheduled again, and not cancelled: there is nothing to cancel).
    function getOperationState(bytes32 id) public view override returns (OperationState) {
        if (isOperationExpired(id)) return OperationState.Unset;
        return super.getOperationState(id);
    }

    /// @notice OpenZeppelin's execute; reverts `TimelockOperationExpired` past the window.
    function execute(address target, uint256 value, bytes calldata payload, bytes32 predecessor, bytes32 salt)
        public
        payable
        override
    {
        _checkNotExpired(hashOperation(target, value, payload, predecessor, salt));
        super.execute(target, value, payload, predecessor, salt);
    }

    /// @notice OpenZeppelin's executeBatch; reverts `TimelockOperationExpired` past the window.
    function executeBatch(
        address[] calldata targets,
        uint256[] calldata values,
        bytes[] calldata payloads,
        bytes32 predecessor,
        bytes32 salt
    ) public payable override {
        _checkNotExpired(hashOperationBatch(targets, values, payloads, predecessor, salt));
        super.executeBatch(targets, values, payloads, predecessor, salt);
    }

    function _checkNotExpired(bytes32 id) private view {
        if (isOperationExpired(id)) {
            uint256 readyAt = getTimestamp(id);
            revert TimelockOperationExpired(id, readyAt, readyAt + EXECUTION_WINDOW);
        }
    }
}
