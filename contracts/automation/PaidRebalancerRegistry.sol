// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IPaidRebalancerRegistry} from "../interfaces/IPaidRebalancerRegistry.sol";
import {IRebalanceScheduler} from "../interfaces/IRebalanceScheduler.sol";
import {IRebalanceTarget} from "../interfaces/IRebalanceTarget.sol";
import {IRecurringTask} from "../interfaces/IRecurringTask.sol";
import {ISupervisor} from "../interfaces/ISupervisor.sol";
import {ITxFunder} from "../interfaces/ITxFunder.sol";
import {BoundedCallLib} from "../libraries/BoundedCallLib.sol";
import {Rebalancer} from "./Rebalancer.sol";
import {ReleaseLib} from "../libraries/ReleaseLib.sol";

/// @title PaidRebalancerRegistry
/// @notice Creates and owns the rebalancers the admin pays for: only authorised creators or
/// the owners of allow-listed positions, within caps, each with a finite funder allowance.
contract PaidRebalancerRegistry is IPaidRebalancerRegistry, Ownable2Step {
    /// @notice The contract release this code belongs to (ASCII in a bytes32, e.g. "0.2.0"): the
    /// keepers refuse to drive contracts of a release their ABIs do not belong to.
    bytes32 public constant RELEASE = ReleaseLib.RELEASE;

    /* CONSTANTS */

    /// @notice The largest allowance a paid rebalancer may get on the admin's funder (1,000
    /// units of the native currency): finite by construction, whatever the owner sets.
    uint256 public constant MAX_ALLOWANCE_PER_REBALANCER = 1_000 ether;

    /* STORAGE */

    IRebalanceScheduler public immutable scheduler;

    IRecurringTask.RecurringConfig internal _defaultConfig;
    uint256 public nextId;
    /// @inheritdoc IPaidRebalancerRegistry
    uint256 public allowancePerRebalancer;
    /// @inheritdoc IPaidRebalancerRegistry
    uint256 public maxPerOwner;
    /// @inheritdoc IPaidRebalancerRegistry
    uint256 public maxTotal;
    /// @inheritdoc IPaidRebalancerRegistry
    uint256 public liveCount;
    /// @inheritdoc IPaidRebalancerRegistry
    address public supervisor;
    mapping(uint256 id => PaidRebalancer) internal _paid;
    mapping(address position => uint256 id) public idOfPosition;
    mapping(address account => bool) public isCreator;
    mapping(address position => bool) public isPositionAllowed;
    mapping(address owner => uint256) public liveCountOf;

    /* CONSTRUCTOR */

    /// @param allowancePerRebalancer_ Funder allowance of each new paid rebalancer (finite).
    /// @param maxPerOwner_ Live paid rebalancers one owner may hold.
    /// @param maxTotal_ Live paid rebalancers in all.
    constructor(
        address admin,
        IRebalanceScheduler scheduler_,
        IRecurringTask.RecurringConfig memory defaultConfig,
        uint256 allowancePerRebalancer_,
        uint256 maxPerOwner_,
        uint256 maxTotal_
    ) Ownable(admin) {
        scheduler = scheduler_;
        _defaultConfig = defaultConfig;
        nextId = 1;
        emit DefaultRecurringConfigSet(defaultConfig);
        _setAllowancePerRebalancer(allowancePerRebalancer_);
        _setLimits(maxPerOwner_, maxTotal_);
    }

    /* USERS */

    /// @inheritdoc IPaidRebalancerRegistry
    function createPaidRebalancer(address position) external returns (uint256 id) {
        if (position == address(0)) revert ZeroPosition();
        if (!_isCreator(msg.sender)) {
            if (!isPositionAllowed[position]) revert NotAuthorisedCreator(msg.sender, position);
            if (_positionOwner(position) != msg.sender) revert NotPositionOwner(msg.sender, position);
        }
        return _create(position, msg.sender);
    }

    /// @inheritdoc IPaidRebalancerRegistry
    function createPaidRebalancerFor(address position, address owner_) external returns (uint256 id) {
        if (position == address(0)) revert ZeroPosition();
        if (owner_ == address(0)) revert ZeroOwner();
        if (!_isCreator(msg.sender)) revert NotAuthorisedCreator(msg.sender, position);
        return _create(position, owner_);
    }

    /// @inheritdoc IPaidRebalancerRegistry
    function removePaidRebalancer(uint256 id) external {
        PaidRebalancer memory p = _get(id);
        if (msg.sender != p.owner && msg.sender != owner()) revert NotRebalancerOwner(id, msg.sender);
        delete _paid[id];
        delete idOfPosition[p.position];
        // Cannot underflow: each live paid rebalancer was counted once at creation.
        unchecked {
            --liveCount;
            --liveCountOf[p.owner];
        }
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
    function renounceCreator() external {
        isCreator[msg.sender] = false;
        emit CreatorSet(msg.sender, false);
    }

    /// @inheritdoc IPaidRebalancerRegistry
    function setPositionAllowed(address position, bool allowed) external onlyOwner {
        isPositionAllowed[position] = allowed;
        emit PositionAllowedSet(position, allowed);
    }

    /// @inheritdoc IPaidRebalancerRegistry
    function setAllowancePerRebalancer(uint256 allowance) external onlyOwner {
        _setAllowancePerRebalancer(allowance);
    }

    /// @inheritdoc IPaidRebalancerRegistry
    function setRebalancerAllowance(uint256 id, uint256 allowance) external onlyOwner {
        _checkAllowance(allowance);
        Rebalancer rebalancer = Rebalancer(payable(_get(id).rebalancer));
        ITxFunder(rebalancer.recurringConfig().txFunder).approveSpender(address(rebalancer), allowance);
        emit RebalancerAllowanceSet(id, allowance);
    }

    /// @inheritdoc IPaidRebalancerRegistry
    function setLimits(uint256 maxPerOwner_, uint256 maxTotal_) external onlyOwner {
        _setLimits(maxPerOwner_, maxTotal_);
    }

    /// @inheritdoc IPaidRebalancerRegistry
    function setSupervisor(address supervisor_) external onlyOwner {
        supervisor = supervisor_;
        emit SupervisorSet(supervisor_);
    }

    /// @inheritdoc IPaidRebalancerRegistry
    function setTrustedTarget(uint256 id, bool trusted) external onlyOwner {
        Rebalancer(payable(_get(id).rebalancer)).setTrustedTarget(trusted);
        emit TrustedTargetSet(id, trusted);
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

    /// @dev Caller checks done: caps, one per position, deploy, authorise (finite), book,
    /// register with the supervisor.
    function _create(address position, address owner_) internal returns (uint256 id) {
        uint256 existing = idOfPosition[position];
        if (existing != 0) revert RebalancerExists(position, existing);
        if (liveCount >= maxTotal) revert TotalCapReached(maxTotal);
        if (liveCountOf[owner_] >= maxPerOwner) revert OwnerCapReached(owner_, maxPerOwner);
        // Cannot overflow: both counts are below their caps.
        unchecked {
            ++liveCount;
            ++liveCountOf[owner_];
        }

        id = nextId++;
        IRecurringTask.RecurringConfig memory config = _defaultConfig;
        Rebalancer rebalancer = new Rebalancer(address(this), scheduler, IRebalanceTarget(position), config);
        _paid[id] = PaidRebalancer({rebalancer: address(rebalancer), owner: owner_, position: position});
        idOfPosition[position] = id;
        emit PaidRebalancerCreated(id, position, owner_, address(rebalancer));
        ITxFunder(config.txFunder).approveSpender(address(rebalancer), allowancePerRebalancer);
        rebalancer.fixReschedule();
        address sup = supervisor;
        if (sup != address(0)) ISupervisor(sup).addPaidRebalancer(id);
    }

    function _isCreator(address account) internal view returns (bool) {
        return isCreator[account] || account == owner();
    }

    function _checkAllowance(uint256 allowance) internal pure {
        if (allowance == 0 || allowance > MAX_ALLOWANCE_PER_REBALANCER) revert InvalidAllowance(allowance);
    }

    function _setAllowancePerRebalancer(uint256 allowance) internal {
        _checkAllowance(allowance);
        allowancePerRebalancer = allowance;
        emit AllowancePerRebalancerSet(allowance);
    }

    function _setLimits(uint256 maxPerOwner_, uint256 maxTotal_) internal {
        if (maxPerOwner_ == 0 || maxTotal_ == 0 || maxPerOwner_ > maxTotal_) {
            revert InvalidLimits(maxPerOwner_, maxTotal_);
        }
        maxPerOwner = maxPerOwner_;
        maxTotal = maxTotal_;
        emit LimitsSet(maxPerOwner_, maxTotal_);
    }

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
