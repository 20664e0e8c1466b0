// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IPaidRebalancerRegistry} from "../interfaces/IPaidRebalancerRegistry.sol";
import {IRebalanceScheduler} from "../interfaces/IRebalanceScheduler.sol";
import {IRebalanceTarget} from "../interfaces/IRebalanceTarget.sol";
import {IRecurringTask} from "../interfaces/IRecurringTask.sol";
import {ITxFunder} from "../interfaces/ITxFunder.sol";
import {BoundedCallLib} from "../libraries/BoundedCallLib.sol";
import {Rebalancer} from "./Rebalancer.sol";

/// @title PaidRebalancerRegistry
/// @notice Creates and owns the rebalancers the admin pays for.
contract PaidRebalancerRegistry is IPaidRebalancerRegistry, Ownable2Step {
    /* STORAGE */

    IRebalanceScheduler public immutable scheduler;

    IRecurringTask.RecurringConfig internal _defaultConfig;
    uint256 public nextId;
    uint256 public allowancePerRebalancer;
    mapping(uint256 id => PaidRebalancer) internal _paid;
    mapping(address position => uint256 id) public idOfPosition;
    mapping(address account => bool) public isCreator;

    /* CONSTRUCTOR */

    constructor(address admin, IRebalanceScheduler scheduler_, IRecurringTask.RecurringConfig memory defaultConfig)
        Ownable(admin)
    {
        scheduler = scheduler_;
        _defaultConfig = defaultConfig;
        nextId = 1;
        allowancePerRebalancer = type(uint256).max;
        emit DefaultRecurringConfigSet(defaultConfig);
    }

    /* USERS */

    /// @inheritdoc IPaidRebalancerRegistry
    function createPaidRebalancer(address position) external returns (uint256 id) {
        if (position == address(0)) revert ZeroPosition();
        if (!isCreator[msg.sender] && _positionOwner(position) != msg.sender) {
            revert NotPositionOwner(msg.sender, position);
        }
        uint256 existing = idOfPosition[position];
        if (existing != 0) revert RebalancerExists(position, existing);

        id = nextId++;
        IRecurringTask.RecurringConfig memory config = _defaultConfig;
        Rebalancer rebalancer = new Rebalancer(address(this), scheduler, IRebalanceTarget(position), config);
        _paid[id] = PaidRebalancer({rebalancer: address(rebalancer), owner: msg.sender, position: position});
        idOfPosition[position] = id;
        emit PaidRebalancerCreated(id, position, msg.sender, address(rebalancer));
        ITxFunder(config.txFunder).approveSpender(address(rebalancer), allowancePerRebalancer);
        rebalancer.fixReschedule();
    }

    /// @inheritdoc IPaidRebalancerRegistry
    function removePaidRebalancer(uint256 id) external {
        PaidRebalancer memory p = _get(id);
        if (msg.sender != p.owner && msg.sender != owner()) revert NotRebalancerOwner(id, msg.sender);
        delete _paid[id];
        delete idOfPosition[p.position];
        emit PaidRebalancerRemoved(id, msg.sender);
        address funder = Rebalancer(payable(p.rebalancer)).recurringConfig().txFunder;
        Rebalancer(payable(p.rebalancer)).destroy();
        _revoke(funder, p.rebalancer);
    }

    /// @inheritdoc IPaidRebalancerRegistry
    function fixReschedule(uint256 id) external returns (IRecurringTask.FixOutcome) {
        return Rebalancer(payable(_get(id).rebalancer)).fixReschedule();
    }

    /* ADMIN */

    /// @inheritdoc IPaidRebalancerRegistry
    function updateRecurringConfig(uint256 id, IRecurringTask.RecurringConfig calldata config) external onlyOwner {
        Rebalancer rebalancer = Rebalancer(payable(_get(id).rebalancer));
        address oldFunder = rebalancer.recurringConfig().txFunder;
        if (config.txFunder != oldFunder) {
            ITxFunder(config.txFunder).approveSpender(address(rebalancer), allowancePerRebalancer);
        }
        rebalancer.setRecurringConfig(config);
        if (config.txFunder != oldFunder) _revoke(oldFunder, address(rebalancer));
        emit PaidConfigUpdated(id, config);
    }

    /// @inheritdoc IPaidRebalancerRegistry
    function updateDefaultRecurringConfig(IRecurringTask.RecurringConfig calldata config) external onlyOwner {
        if (config.txFunder == address(0)) revert IRecurringTask.InvalidRecurringConfig("txFunder", 0);
        _defaultConfig = config;
        emit DefaultRecurringConfigSet(config);
    }

    /// @inheritdoc IPaidRebalancerRegistry
    function setCreator(address account, bool allowed) external onlyOwner {
        isCreator[account] = allowed;
        emit CreatorSet(account, allowed);
    }

    /// @inheritdoc IPaidRebalancerRegistry
    function setAllowancePerRebalancer(uint256 allowance) external onlyOwner {
        allowancePerRebalancer = allowance;
        emit AllowancePerRebalancerSet(allowance);
    }

    /* VIEWS */

    /// @inheritdoc IPaidRebalancerRegistry
    function rebalancerOf(uint256 id) external view returns (address) {
        return _paid[id].rebalancer;
    }

    /// @inheritdoc IPaidRebalancerRegistry
    function ownerOf(uint256 id) external view returns (address) {
        return _paid[id].owner;
    }

    /// @inheritdoc IPaidRebalancerRegistry
    function paidRebalancer(uint256 id) external view returns (PaidRebalancer memory) {
        return _paid[id];
    }

    /// @inheritdoc IPaidRebalancerRegistry
    function defaultRecurringConfig() external view returns (IRecurringTask.RecurringConfig memory) {
        return _defaultConfig;
    }

    /* INTERNAL */

    function _get(uint256 id) internal view returns (PaidRebalancer memory p) {
        p = _paid[id];
        if (p.rebalancer == address(0)) revert UnknownRebalancer(id);
    }

    /// @dev The position's `owner()`, or zero when it has none (bounded: the position is untrusted).
    function _positionOwner(address position) internal view returns (address o) {
        bytes4 selector = bytes4(keccak256("owner()"));
        assembly ("memory-safe") {
            mstore(0x00, selector)
            let ok := staticcall(50000, position, 0x00, 0x04, 0x00, 0x00)
            if and(ok, gt(returndatasize(), 0x1f)) {
                returndatacopy(0x00, 0x00, 0x20)
                o := and(mload(0x00), 0xffffffffffffffffffffffffffffffffffffffff)
            }
        }
    }

    /// @dev Best effort: a funder this registry no longer manages keeps a dead allowance.
    function _revoke(address funder, address rebalancer) internal {
        BoundedCallLib.call(funder, 100_000, 0, abi.encodeCall(ITxFunder.approveSpender, (rebalancer, 0)), 0);
    }
}
