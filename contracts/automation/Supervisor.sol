// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IPaidRebalancerRegistry} from "../interfaces/IPaidRebalancerRegistry.sol";
import {IRebalanceScheduler} from "../interfaces/IRebalanceScheduler.sol";
import {IRecurringTask} from "../interfaces/IRecurringTask.sol";
import {ISupervisor} from "../interfaces/ISupervisor.sol";
import {BoundedCallLib} from "../libraries/BoundedCallLib.sol";
import {RecurringTask} from "./RecurringTask.sol";

/// @title Supervisor
/// @notice Keeps registered paid rebalancers booked by calling their fixReschedule() on a cron.
contract Supervisor is ISupervisor, RecurringTask, Ownable2Step {
    /* CONSTANTS */

    /// @dev Gas a public tick keeps back after its last item (cursor write, events).
    uint256 internal constant TICK_RESERVE = 30_000;
    uint256 internal constant MIN_ITEM_GAS = 50_000;

    /* STORAGE */

    IPaidRebalancerRegistry public immutable registry;

    /// @dev One slot per item: the tick reads a single word for both.
    struct Item {
        address rebalancer;
        uint64 id;
    }

    Item[] internal _items;
    mapping(uint256 id => uint256 indexPlusOne) internal _indexOf;
    uint256 public cursor;
    uint256 public itemGasCap;
    uint256 public maxItemsPerRun;

    /* CONSTRUCTOR */

    /// @dev Does not book: the deployer authorises it on the funder, then calls fixReschedule.
    constructor(
        address admin,
        IRebalanceScheduler scheduler_,
        IPaidRebalancerRegistry registry_,
        RecurringConfig memory config,
        uint256 itemGasCap_,
        uint256 maxItemsPerRun_
    ) RecurringTask(scheduler_, config) Ownable(admin) {
        registry = registry_;
        _setTickSettings(itemGasCap_, maxItemsPerRun_);
    }

    /* REGISTRATION */

    /// @inheritdoc ISupervisor
    function addPaidRebalancer(uint256 id) external {
        _add(id);
    }

    /// @inheritdoc ISupervisor
    function addPaidRebalancers(uint256[] calldata ids) external {
        for (uint256 i; i < ids.length; ++i) {
            _add(ids[i]);
        }
    }

    /// @inheritdoc ISupervisor
    function removePaidRebalancer(uint256 id) external {
        _authorise(id);
        uint256 indexPlusOne = _indexOf[id];
        if (indexPlusOne == 0) revert NotSupervised(id);
        _remove(indexPlusOne - 1);
        emit PaidRebalancerRemoved(id);
    }

    /* TICK */

    /// @inheritdoc ISupervisor
    function tick(uint256 maxItems) external nonReentrant returns (uint256 checked) {
        return _tick(maxItems, TICK_RESERVE);
    }

    /* ADMIN */

    /// @inheritdoc ISupervisor
    function setTickSettings(uint256 itemGasCap_, uint256 maxItemsPerRun_) external onlyOwner {
        _setTickSettings(itemGasCap_, maxItemsPerRun_);
    }

    /// @inheritdoc ISupervisor
    function setRecurringConfig(RecurringConfig calldata config) external onlyOwner nonReentrant {
        _cancelBooked();
        _setConfig(config);
        _bookNext();
    }

    /* VIEWS */

    /// @inheritdoc ISupervisor
    function itemCount() external view returns (uint256) {
        return _items.length;
    }

    /// @inheritdoc ISupervisor
    function itemAt(uint256 index) external view returns (uint256 id, address rebalancer) {
        Item memory it = _items[index];
        return (it.id, it.rebalancer);
    }

    /// @inheritdoc ISupervisor
    function isSupervised(uint256 id) external view returns (bool) {
        return _indexOf[id] != 0;
    }

    /* INTERNAL */

    function _onRun(uint256) internal override {
        _tick(maxItemsPerRun, BOOKING_RESERVE);
    }

    /// @dev The loop. Each item: one storage read, one capped call that copies at most one
    /// return word, one event. `reserve` is the gas kept for what follows the loop.
    function _tick(uint256 maxItems, uint256 reserve) internal returns (uint256 checked) {
        uint256 n = _items.length;
        if (n == 0) return 0;
        if (maxItems > n) maxItems = n;
        uint256 cap = itemGasCap;
        // EIP-150: the callee gets at most 63/64 of what is left; keep enough for the full cap.
        uint256 needed = cap + cap / 63 + reserve;
        uint256 i = cursor;
        if (i >= n) i = 0;
        bytes4 selector = IRecurringTask.fixReschedule.selector;
        uint256 base = _itemsBase();
        while (checked < maxItems && gasleft() >= needed) {
            uint256 word;
            assembly ("memory-safe") {
                word := sload(add(base, i))
            }
            (bool ok, bool returned, uint256 answer) = BoundedCallLib.callSelector(address(uint160(word)), cap, selector);
            uint256 id = uint64(word >> 160);
            uint256 outcome;
            if (!ok) outcome = uint256(ItemOutcome.Reverted);
            else if (!returned) outcome = uint256(ItemOutcome.NoResponse);
            else if (answer > uint256(ItemOutcome.Destroyed)) outcome = uint256(ItemOutcome.Reverted);
            else outcome = answer;
            // Cannot overflow: bounded by maxItems <= n.
            unchecked {
                ++checked;
            }
            if (outcome == uint256(ItemOutcome.Destroyed) || outcome == uint256(ItemOutcome.NoResponse)) {
                _remove(i);
                emit ItemPruned(id, ItemOutcome(outcome));
                n = _items.length;
                if (n == 0) break;
                // The last item now sits at i and is visited next. Visits stay bounded by the
                // list length at the start; an item moved from behind the cursor may be seen
                // twice in one tick, which is harmless (fixReschedule is idempotent).
                if (i >= n) i = 0;
            } else {
                _emitChecked(id, outcome);
                // Cannot overflow: i < n.
                unchecked {
                    if (++i == n) i = 0;
                }
            }
        }
        cursor = i;
        emit Ticked(checked, n, i);
    }

    /// @dev Storage slot of _items[0] (an Item is exactly one slot).
    function _itemsBase() internal pure returns (uint256 base) {
        uint256 slot;
        assembly ("memory-safe") {
            slot := _items.slot
        }
        base = uint256(keccak256(abi.encode(slot)));
    }

    /// @dev emit ItemChecked(id, outcome), written in assembly: it runs once per item.
    function _emitChecked(uint256 id, uint256 outcome) internal {
        bytes32 topic = ItemChecked.selector;
        assembly ("memory-safe") {
            mstore(0x00, outcome)
            log2(0x00, 0x20, topic, id)
        }
    }

    function _add(uint256 id) internal {
        _authorise(id);
        if (_indexOf[id] != 0) revert AlreadySupervised(id);
        address rebalancer = registry.rebalancerOf(id);
        if (rebalancer == address(0) || id > type(uint64).max) revert UnknownRebalancer(id);
        _items.push(Item({rebalancer: rebalancer, id: uint64(id)}));
        _indexOf[id] = _items.length;
        emit PaidRebalancerAdded(id, rebalancer);
    }

    function _remove(uint256 index) internal {
        uint256 last = _items.length - 1;
        uint256 id = _items[index].id;
        if (index != last) {
            Item memory moved = _items[last];
            _items[index] = moved;
            _indexOf[moved.id] = index + 1;
        }
        _items.pop();
        delete _indexOf[id];
    }

    function _authorise(uint256 id) internal view {
        if (msg.sender != owner() && msg.sender != registry.ownerOf(id)) revert NotRebalancerOwnerOrAdmin(id, msg.sender);
    }

    function _setTickSettings(uint256 itemGasCap_, uint256 maxItemsPerRun_) internal {
        if (itemGasCap_ < MIN_ITEM_GAS || itemGasCap_ > 5_000_000 || maxItemsPerRun_ == 0) {
            revert InvalidTickSettings(itemGasCap_, maxItemsPerRun_);
        }
        itemGasCap = itemGasCap_;
        maxItemsPerRun = maxItemsPerRun_;
        emit TickSettingsSet(itemGasCap_, maxItemsPerRun_);
    }
}
