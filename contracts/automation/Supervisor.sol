// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IPaidRebalancerRegistry} from "../interfaces/IPaidRebalancerRegistry.sol";
import {IRebalanceScheduler} from "../interfaces/IRebalanceScheduler.sol";
import {IRecurringTask} from "../interfaces/IRecurringTask.sol";
import {ISupervisor} from "../interfaces/ISupervisor.sol";
import {RecurringTask} from "./RecurringTask.sol";
import {ReleaseLib} from "../libraries/ReleaseLib.sol";

/// @title Supervisor
/// @notice Keeps registered paid rebalancers booked by calling their fixReschedule() on a cron.
contract Supervisor is ISupervisor, RecurringTask, Ownable2Step {
    /// @notice The contract release this code belongs to (ASCII in a bytes32, e.g. "0.2.0"): the
    /// keepers refuse to drive contracts of a release their ABIs do not belong to.
    bytes32 public constant RELEASE = ReleaseLib.RELEASE;

    /* CONSTANTS */

    /// @dev Gas a public tick keeps back after its last item (cursor write, events).
    uint256 internal constant TICK_RESERVE = 30_000;
    uint256 internal constant MIN_ITEM_GAS = 50_000;
    /// @dev Ticked's data grows by one 32-byte word per item checked: 8 gas a byte at the LOG.
    uint256 internal constant OUTCOME_LOG_GAS = 256;

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

    /// @dev Books the Supervisor's own next run before the tick spends on the items: items that
    /// re-book empty the funder before the Supervisor could book itself, and a Supervisor with
    /// nothing booked waits for the supervisor bot or a stranger's fixReschedule. When its own
    /// booking fails (the funder was already short), the tick keeps BOOKING_RESERVE so that
    /// executeScheduled tries once more after the items.
    function _onRun(uint256) internal override {
        _bookNext();
        _tick(maxItemsPerRun, _receipt.runId == 0 ? BOOKING_RESERVE : TICK_RESERVE);
    }

    /// @dev The loop. Each item: one storage read, one capped call that copies at most one
    /// return word, one packed outcome word written into the Ticked event's data, which is built
    /// in place in memory and logged once after the loop (one LOG per tick instead of one per
    /// item). `reserve` is the gas kept for what follows the loop.
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
        // Ticked's ABI data: checked, remaining, cursor, offset of outcomes, length, outcomes[].
        // The whole region is allocated up front (no gas until written): nothing in the loop
        // allocates memory (calls and logs use the scratch space), so the words stay in place.
        uint256 head;
        assembly ("memory-safe") {
            head := mload(0x40)
            mstore(0x40, add(head, add(0xa0, shl(5, maxItems))))
        }
        uint256 ptr = head + 0xa0;
        // Cannot overflow: checked <= maxItems <= n, i < n, cap <= 5M, and ptr stays inside the
        // region allocated above.
        unchecked {
            while (checked < maxItems && gasleft() >= needed + checked * OUTCOME_LOG_GAS) {
                uint256 id;
                uint256 outcome;
                // One item, in assembly: it runs once per item. The call is BoundedCallLib's
                // callSelector, inlined: gas capped, the output area is the single scratch word at
                // 0x00, so a return bomb copies nothing more.
                assembly ("memory-safe") {
                    let word := sload(add(base, i))
                    id := shr(160, word)
                    mstore(0x00, selector)
                    outcome := 4 // ItemOutcome.Reverted
                    if call(cap, and(word, 0xffffffffffffffffffffffffffffffffffffffff), 0, 0x00, 0x04, 0x00, 0x20) {
                        switch lt(returndatasize(), 0x20)
                        // ItemOutcome.NoResponse: no code (or nothing returned).
                        case 1 { outcome := 5 }
                        default {
                            // A FixOutcome (0-3) is taken as is; any other answer counts as Reverted.
                            let answer := mload(0x00)
                            if lt(answer, 4) { outcome := answer }
                        }
                    }
                    mstore(ptr, or(shl(8, id), outcome))
                    ptr := add(ptr, 0x20)
                }
                ++checked;
                if (outcome == uint256(ItemOutcome.Destroyed) || outcome == uint256(ItemOutcome.NoResponse)) {
                    _remove(i);
                    _emitPruned(id, outcome);
                    n = _items.length;
                    if (n == 0) break;
                    // The last item now sits at i and is visited next. Visits stay bounded by the
                    // list length at the start; an item moved from behind the cursor may be seen
                    // twice in one tick, which is harmless (fixReschedule is idempotent).
                    if (i >= n) i = 0;
                } else if (++i == n) {
                    i = 0;
                }
            }
        }
        cursor = i;
        bytes32 topic = Ticked.selector;
        assembly ("memory-safe") {
            mstore(head, checked)
            mstore(add(head, 0x20), n)
            mstore(add(head, 0x40), i)
            mstore(add(head, 0x60), 0x80)
            mstore(add(head, 0x80), checked)
            log1(head, add(0xa0, shl(5, checked)), topic)
        }
    }

    /// @dev Storage slot of _items[0] (an Item is exactly one slot). Hashes in the scratch
    /// space, so it allocates no memory.
    function _itemsBase() internal pure returns (uint256 base) {
        assembly ("memory-safe") {
            mstore(0x00, _items.slot)
            base := keccak256(0x00, 0x20)
        }
    }

    /// @dev emit ItemPruned(id, reason) from the scratch space: the tick's outcome words sit
    /// at the free memory pointer.
    function _emitPruned(uint256 id, uint256 reason) internal {
        bytes32 topic = ItemPruned.selector;
        assembly ("memory-safe") {
            mstore(0x00, reason)
            log2(0x00, 0x20, topic, id)
        }
    }

    function _add(uint256 id) internal {
        // Items only from the admin or the registry (whose creations are capped): outsiders
        // cannot flood the list, and with it every tick's fixReschedule calls into the funder.
        if (msg.sender != owner() && msg.sender != address(registry)) revert NotAdminOrRegistry(msg.sender);
        if (_indexOf[id] != 0) revert AlreadySupervised(id);
        address rebalancer = registry.rebalancerOf(id);
        if (rebalancer == address(0) || id > type(uint64).max) revert UnknownRebalancer(id);
        _items.push(Item({rebalancer: rebalancer, id: uint64(id)}));
        _indexOf[id] = _items.length;
        emit PaidRebalancerAdded(id, rebalancer);
    }

    /// @dev Swap-and-pop on raw item words. Uses no memory: it runs inside the tick, whose
    /// outcome words sit at the free memory pointer (see _tick).
    function _remove(uint256 index) internal {
        uint256 base = _itemsBase();
        uint256 last = _items.length - 1;
        uint256 removed;
        uint256 moved;
        assembly ("memory-safe") {
            removed := sload(add(base, index))
            moved := sload(add(base, last))
        }
        if (index != last) {
            assembly ("memory-safe") {
                sstore(add(base, index), moved)
            }
            _indexOf[moved >> 160] = index + 1;
        }
        _items.pop();
        delete _indexOf[removed >> 160];
    }

    function _authorise(uint256 id) internal view {
        if (msg.sender != owner() && msg.sender != address(registry) && msg.sender != registry.ownerOf(id)) {
            revert NotRebalancerOwnerOrAdmin(id, msg.sender);
        }
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
