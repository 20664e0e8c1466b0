// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IAssetControllerTypes} from "../interfaces/IAssetControllerTypes.sol";
import {IRebalanceScheduler} from "../interfaces/IRebalanceScheduler.sol";
import {IRebalanceTarget} from "../interfaces/IRebalanceTarget.sol";
import {IRebalancer} from "../interfaces/IRebalancer.sol";
import {BoundedCallLib} from "../libraries/BoundedCallLib.sol";
import {RecurringTask} from "./RecurringTask.sol";
import {ReleaseLib} from "../libraries/ReleaseLib.sol";

/// @title Rebalancer
/// @notice Drives one position's rebalance(bool) on a recurring schedule. The owner (a user, or
/// the PaidRebalancerRegistry) controls the config; anyone may fixReschedule. A failed run books
/// its retry after interval / RETRY_DIVISOR, backing off on failures in a row; only a target the
/// owner trusts (the fund's controller) is believed when it says RebalanceHeld or "cut and still
/// out of band", and is then retried at the short delay without backing off.
contract Rebalancer is IRebalancer, RecurringTask, Ownable2Step {
    /// @notice The contract release this code belongs to (ASCII in a bytes32, e.g. "0.2.0"): the
    /// keepers refuse to drive contracts of a release their ABIs do not belong to.
    bytes32 public constant RELEASE = ReleaseLib.RELEASE;

    /* STORAGE */

    /// @inheritdoc IRebalancer
    IRebalanceTarget public immutable position;

    /// @inheritdoc IRebalancer
    bool public trustedTarget;

    /* CONSTRUCTOR */

    /// @dev Does not book: the owner (or the registry) calls fixReschedule once the funder has
    /// authorised this contract.
    constructor(address owner_, IRebalanceScheduler scheduler_, IRebalanceTarget position_, RecurringConfig memory config)
        RecurringTask(scheduler_, config)
        Ownable(owner_)
    {
        position = position_;
        emit CreatedRebalancer(owner_, address(position_), config.txFunder);
    }

    /* OWNER */

    /// @inheritdoc IRebalancer
    function setRecurringConfig(RecurringConfig calldata config) external onlyOwner nonReentrant {
        if (_receipt.destroyed) revert TaskIsDestroyed();
        _cancelBooked();
        _setConfig(config);
        _bookNext();
    }

    /// @inheritdoc IRebalancer
    function setTrustedTarget(bool trusted) external onlyOwner {
        trustedTarget = trusted;
        emit TrustedTargetSet(trusted);
    }

    /// @inheritdoc IRebalancer
    function destroy() external onlyOwner nonReentrant {
        if (_receipt.destroyed) revert TaskIsDestroyed();
        _destroy();
    }

    /* INTERNAL */

    /// @dev Calls position.rebalance(force), keeping BOOKING_RESERVE gas for the next booking and
    /// copying at most MAX_REASON bytes back: a reverting, gas-burning or return-bombing position
    /// emits RebalanceFailed and the schedule goes on.
    function _onRun(uint256 runId) internal override {
        uint256 available = gasleft();
        if (available <= BOOKING_RESERVE) {
            emit RebalanceFailed(runId, "");
            return;
        }
        (bool ok, bytes memory ret) = BoundedCallLib.call(
            address(position),
            available - BOOKING_RESERVE,
            0,
            abi.encodeCall(IRebalanceTarget.rebalance, (_config.forceRebalance)),
            MAX_REASON
        );
        if (!ok) {
            // A position that failed is tried again soon rather than a full interval later, and
            // backs off on failures in a row (a stale feed or a pause that lasts costs a few runs
            // a day, not 24). Only a trusted target's RebalanceHeld (the fund's controller: the
            // pools stood past its bound, which anyone may arrange right before executing its
            // due run) is retried at the short delay every time: backing off would let five such
            // moves push the fund's rebalance a whole interval away. Any other target's word is
            // not believed: an allow-listed paid position reverting RebalanceHeld backs off like
            // any failure (the third review: such positions got 24 paid runs a day each).
            bytes4 reason;
            if (ret.length >= 4) {
                assembly ("memory-safe") {
                    reason := mload(add(ret, 0x20))
                }
            }
            _retrySoon(reason != IAssetControllerTypes.RebalanceHeld.selector || !trustedTarget);
            emit RebalanceFailed(runId, ret);
            return;
        }
        bool moved;
        bool offTarget;
        if (ret.length >= 32) {
            // Any non-zero word counts as true; abi.decode would revert on a malformed bool.
            // The second word (the fund's controller: some leg was cut at its price bound and the
            // fund is still out of band) is read from a trusted target only.
            assembly ("memory-safe") {
                moved := iszero(iszero(mload(add(ret, 0x20))))
                if gt(mload(ret), 0x3f) { offTarget := iszero(iszero(mload(add(ret, 0x40)))) }
            }
        }
        if (offTarget && trustedTarget) _retrySoon(false);
        emit Rebalanced(runId, moved);
    }
}
