// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAssetControllerTypes} from "../interfaces/IAssetControllerTypes.sol";
import {IRebalanceTarget} from "../interfaces/IRebalanceTarget.sol";

/// @notice Test position: shows the least-privilege pattern (only rebalancers its owner
/// authorised may call rebalance) and can misbehave on demand.
contract TestPosition is IRebalanceTarget {
    enum Mode {
        Normal,
        Revert,
        BurnGas,
        ReturnBomb,
        Held, // reverts as the fund's controller does when the pools stand past its bound
        MovedOffTarget // returns (true, true) as the controller does when a leg was cut and it is still out of band
    }

    error NotAuthorisedRebalancer(address caller);
    error NotOwner(address caller);
    error PositionBroken();

    event PositionRebalanced(address indexed by, bool force);

    address public owner;
    Mode public mode;
    uint256 public calls;
    bool public lastForce;
    mapping(address => bool) public isRebalancer;

    constructor(address owner_) {
        owner = owner_;
    }

    function setRebalancer(address rebalancer, bool allowed) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        isRebalancer[rebalancer] = allowed;
    }

    function setMode(Mode mode_) external {
        mode = mode_;
    }

    function rebalance(bool force) external returns (bool moved) {
        if (!isRebalancer[msg.sender]) revert NotAuthorisedRebalancer(msg.sender);
        if (mode == Mode.Revert) revert PositionBroken();
        if (mode == Mode.Held) revert IAssetControllerTypes.RebalanceHeld();
        if (mode == Mode.BurnGas) {
            while (true) {}
        }
        if (mode == Mode.ReturnBomb) {
            assembly {
                return(0, 1000000)
            }
        }
        ++calls;
        lastForce = force;
        emit PositionRebalanced(msg.sender, force);
        if (mode == Mode.MovedOffTarget) {
            assembly {
                mstore(0x00, 1)
                mstore(0x20, 1)
                return(0x00, 0x40)
            }
        }
        return force;
    }
}
