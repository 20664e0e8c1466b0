// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ITieredVault} from "../interfaces/ITieredVault.sol";
import {IAssetController} from "../interfaces/IAssetController.sol";

/// @title TieredVault
/// @notice See ITieredVault. OpenZeppelin's ERC4626 with a decimals offset against the
/// inflation attack; valuation of the positions comes from the AssetController's oracle mark.
contract TieredVault is ITieredVault, ERC4626, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using Math for uint256;

    /* ROLES */

    bytes32 public constant ADMIN_ROLE = keccak256("ADMIN_ROLE");
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    bytes32 public constant KEEPER_ROLE = keccak256("KEEPER_ROLE");

    /// @notice Virtual shares per virtual asset, as a power of ten: makes the first-depositor
    /// (inflation) attack cost the attacker more than it can take.
    uint8 public constant DECIMALS_OFFSET = 6;

    /// @notice ERC-165 id of ERC-7540's operator interface (setOperator, isOperator).
    bytes4 public constant OPERATOR_INTERFACE_ID = 0xe3bc4e65;

    /// @inheritdoc ITieredVault
    uint256 public constant CANCEL_DELAY = 1 hours;

    /// @dev A request as stored: the ABI's Redemption and its links in the queue of pending
    /// requests (a doubly linked list in request order, in the slot requestedAt and status
    /// already use). A cancel unlinks its request, so the walk in fulfilRedemptions meets live
    /// requests only: a storm of request+cancel pairs leaves nothing behind for it to step over.
    struct Entry {
        address controller;
        address owner;
        uint128 shares;
        uint128 assets;
        uint64 requestedAt;
        RequestStatus status;
        uint64 prev; // the pending request before this one (stale once this one is the head)
        uint64 next; // the pending request after this one, 0 at the tail
    }

    /* STORAGE */

    address public controller;
    bool public depositsPaused;
    bool public withdrawalsPaused;
    uint64 private _tail; // the newest pending request, 0 while none is pending
    uint128 private _pending; // upper estimate of what queued, unfunded requests are owed
    uint128 private _claimable; // cash reserved for funded, unclaimed requests
    uint256 public nextRequestToFulfil; // the queue's head, or _requests.length while it is empty
    Entry[] private _requests;
    mapping(address controller => mapping(address operator => bool)) public isOperator;

    constructor(IERC20 asset_, string memory name_, string memory symbol_, address admin)
        ERC20(name_, symbol_)
        ERC4626(asset_)
    {
        if (address(asset_) == address(0)) revert ZeroAddress("asset");
        if (admin == address(0)) revert ZeroAddress("admin");
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ADMIN_ROLE, admin);
        // request ids start at 1: 0 is never a request (ERC-7540 gives id 0 a meaning of its
        // own, every request aggregated), so a caller cannot mistake one for the other
        _requests.push();
        nextRequestToFulfil = 1;
    }

    /* ERC4626 */

    /// @notice Free cash + the controller's invested value at the exit price (the lower of
    /// mark and live valuation, a down feed's asset at zero). Never reverts. Shares locked in
    /// the redemption queue are still in the supply, so this includes what they will be paid.
    function totalAssets() public view override(ERC4626, IERC4626) returns (uint256) {
        (uint256 low,,) = _invested();
        return freeCash() + low;
    }

    /// @notice 0 while deposits are paused or a held asset's feed is down.
    function maxDeposit(address receiver) public view override(ERC4626, IERC4626) returns (uint256) {
        return depositsPaused || _feedDown() ? 0 : super.maxDeposit(receiver);
    }

    /// @notice 0 while deposits are paused or a held asset's feed is down.
    function maxMint(address receiver) public view override(ERC4626, IERC4626) returns (uint256) {
        return depositsPaused || _feedDown() ? 0 : super.maxMint(receiver);
    }

    /// @notice What `owner` can take at once: capped by cash not earmarked for the queue.
    function maxWithdraw(address owner) public view override(ERC4626, IERC4626) returns (uint256) {
        if (withdrawalsPaused) return 0;
        uint256 own = super.maxWithdraw(owner);
        uint256 cash = availableCash();
        return own < cash ? own : cash;
    }

    function maxRedeem(address owner) public view override(ERC4626, IERC4626) returns (uint256) {
        if (withdrawalsPaused) return 0;
        uint256 own = balanceOf(owner);
        uint256 cashShares = _convertToShares(availableCash(), Math.Rounding.Floor);
        return own < cashShares ? own : cashShares;
    }

    /// @notice Shares for `assets` at the entry price: the higher of mark and live valuation.
    function previewDeposit(uint256 assets) public view override(ERC4626, IERC4626) returns (uint256) {
        (, uint256 high,) = _invested();
        return assets.mulDiv(totalSupply() + 10 ** _decimalsOffset(), freeCash() + high + 1, Math.Rounding.Floor);
    }

    /// @notice Assets for `shares` at the entry price: the higher of mark and live valuation.
    function previewMint(uint256 shares) public view override(ERC4626, IERC4626) returns (uint256) {
        (, uint256 high,) = _invested();
        return shares.mulDiv(freeCash() + high + 1, totalSupply() + 10 ** _decimalsOffset(), Math.Rounding.Ceil);
    }

    /// @dev One read of the vault's cash balance per call: it prices the entry and is the
    /// "before" of the transfer's measurement (only arithmetic between the two, so it is the
    /// balance the transfer starts from).
    function deposit(uint256 assets, address receiver) public override(ERC4626, IERC4626) returns (uint256 shares) {
        uint256 high = _entryValue();
        uint256 bal = _cashBalance();
        shares = assets.mulDiv(totalSupply() + 10 ** _decimalsOffset(), _free(bal) + high + 1, Math.Rounding.Floor);
        _pull(_msgSender(), receiver, assets, shares, bal);
    }

    function mint(uint256 shares, address receiver) public override(ERC4626, IERC4626) returns (uint256 assets) {
        uint256 high = _entryValue();
        uint256 bal = _cashBalance();
        assets = shares.mulDiv(_free(bal) + high + 1, totalSupply() + 10 ** _decimalsOffset(), Math.Rounding.Ceil);
        _pull(_msgSender(), receiver, assets, shares, bal);
    }

    /// @dev One valuation pass instead of OpenZeppelin's two (maxWithdraw + preview): the cash
    /// check replaces maxWithdraw, and _burn enforces the owner's balance. Priced at the exit
    /// price (totalAssets: the lower of mark and live). One read of the cash balance and the
    /// queue's reserve serves the price and the cash check.
    function withdraw(uint256 assets, address receiver, address owner)
        public
        override(ERC4626, IERC4626)
        returns (uint256 shares)
    {
        if (withdrawalsPaused) revert WithdrawalsPaused();
        (uint256 free, uint256 cash) = _cash();
        if (assets > cash) revert InsufficientCash(assets, cash);
        (uint256 low,,) = _invested();
        shares = assets.mulDiv(totalSupply() + 10 ** _decimalsOffset(), free + low + 1, Math.Rounding.Ceil);
        _withdraw(_msgSender(), receiver, owner, assets, shares);
    }

    function redeem(uint256 shares, address receiver, address owner)
        public
        override(ERC4626, IERC4626)
        returns (uint256 assets)
    {
        if (withdrawalsPaused) revert WithdrawalsPaused();
        (uint256 free, uint256 cash) = _cash();
        (uint256 low,,) = _invested();
        assets = shares.mulDiv(free + low + 1, totalSupply() + 10 ** _decimalsOffset(), Math.Rounding.Floor);
        if (assets > cash) revert InsufficientCash(assets, cash);
        _withdraw(_msgSender(), receiver, owner, assets, shares);
    }

    /// @dev Measures what arrived: a fee-on-transfer (or otherwise short-paying) base token
    /// would mint shares for assets the vault never received.
    function _deposit(address caller, address receiver, uint256 assets, uint256 shares) internal override {
        _pull(caller, receiver, assets, shares, _cashBalance());
    }

    /// @dev `_deposit` with the balance before the transfer already read (`before`).
    function _pull(address caller, address receiver, uint256 assets, uint256 shares, uint256 before) private {
        IERC20 token = IERC20(asset());
        token.safeTransferFrom(caller, address(this), assets);
        uint256 received = _cashBalance() - before;
        if (received != assets) revert TransferAmountMismatch(assets, received);
        _mint(receiver, shares);
        emit Deposit(caller, receiver, assets, shares);
    }

    function _decimalsOffset() internal pure override returns (uint8) {
        return DECIMALS_OFFSET;
    }

    /// @dev The controller's (low, high, feedDown); a reverting controller counts as nothing
    /// invested for exits and refuses entries.
    function _invested() private view returns (uint256 low, uint256 high, bool down) {
        address c = controller;
        if (c == address(0)) return (0, 0, false);
        try IAssetController(c).pricingValues() returns (uint256 l, uint256 h, bool d) {
            return (l, h, d);
        } catch {
            return (0, 0, true);
        }
    }

    function _feedDown() private view returns (bool down) {
        (,, down) = _invested();
    }

    /// @dev Checks for deposit/mint; returns the entry valuation.
    function _entryValue() private view returns (uint256 high) {
        if (depositsPaused) revert DepositsPaused();
        bool down;
        (, high, down) = _invested();
        if (down) revert FeedDown();
    }

    /* VIEWS */

    /// @inheritdoc ITieredVault
    function pendingRedemptions() external view returns (uint256) {
        return _pending;
    }

    /// @inheritdoc ITieredVault
    function claimableRedemptions() external view returns (uint256) {
        return _claimable;
    }

    /// @inheritdoc ITieredVault
    /// @dev `_free` written out: the controller reaches it through availableCash() on every move.
    function freeCash() public view returns (uint256) {
        uint256 bal = IERC20(asset()).balanceOf(address(this));
        uint256 reserved = _claimable;
        return bal > reserved ? bal - reserved : 0;
    }

    /// @inheritdoc ITieredVault
    function availableCash() public view returns (uint256) {
        uint256 cash = freeCash();
        uint256 owed = _pending;
        return cash > owed ? cash - owed : 0;
    }

    function _cashBalance() private view returns (uint256) {
        return IERC20(asset()).balanceOf(address(this));
    }

    /// @dev `bal` less the cash reserved for funded, unclaimed requests, floored at 0.
    function _free(uint256 bal) private view returns (uint256) {
        uint256 reserved = _claimable;
        return bal > reserved ? bal - reserved : 0;
    }

    /// @dev freeCash() and availableCash() from one read of the balance and of the reserves' slot.
    function _cash() private view returns (uint256 free, uint256 cash) {
        free = _free(_cashBalance());
        uint256 owed = _pending;
        cash = free > owed ? free - owed : 0;
    }

    /// @inheritdoc ITieredVault
    function redeemRequest(uint256 id) external view returns (Redemption memory) {
        if (id >= _requests.length) revert UnknownRequest(id);
        Entry storage e = _requests[id];
        return Redemption(e.controller, e.owner, e.shares, e.assets, e.requestedAt, e.status);
    }

    /// @inheritdoc ITieredVault
    function redeemRequestCount() external view returns (uint256) {
        return _requests.length;
    }

    /// @inheritdoc ITieredVault
    function pendingRedeemRequest(uint256 requestId, address controller_) external view returns (uint256) {
        return _sharesIn(requestId, controller_, RequestStatus.Pending);
    }

    /// @inheritdoc ITieredVault
    function claimableRedeemRequest(uint256 requestId, address controller_) external view returns (uint256) {
        return _sharesIn(requestId, controller_, RequestStatus.Claimable);
    }

    /// @inheritdoc AccessControl
    function supportsInterface(bytes4 id) public view override returns (bool) {
        return id == OPERATOR_INTERFACE_ID || super.supportsInterface(id);
    }

    function _sharesIn(uint256 id, address controller_, RequestStatus status) private view returns (uint256) {
        if (id >= _requests.length) return 0;
        Entry storage r = _requests[id];
        return r.controller == controller_ && r.status == status ? r.shares : 0;
    }

    /* REDEMPTION QUEUE (ERC-7540 request side) */

    /// @inheritdoc ITieredVault
    function setOperator(address operator, bool approved) external returns (bool) {
        isOperator[msg.sender][operator] = approved;
        emit OperatorSet(msg.sender, operator, approved);
        return true;
    }

    /// @inheritdoc ITieredVault
    function requestRedeem(uint256 shares, address controller_, address owner)
        external
        nonReentrant
        returns (uint256 requestId)
    {
        if (withdrawalsPaused) revert WithdrawalsPaused();
        if (controller_ == address(0)) revert ZeroAddress("controller");
        uint256 estimate = previewRedeem(shares);
        if (shares == 0 || estimate == 0) revert ZeroRedemption(shares);
        if (msg.sender != owner && !isOperator[owner][msg.sender]) _spendAllowance(owner, msg.sender, shares);
        _transfer(owner, address(this), shares); // locked, still in the supply until fulfilment
        uint128 est = SafeCast.toUint128(estimate);
        _pending += est;
        requestId = _requests.length;
        // appended at the tail; with none pending the head already is this id (the count)
        uint64 tail = _tail;
        if (tail != 0) _requests[tail].next = uint64(requestId);
        _requests.push(
            Entry({
                controller: controller_,
                owner: owner,
                shares: SafeCast.toUint128(shares),
                assets: est,
                requestedAt: uint64(block.timestamp),
                status: RequestStatus.Pending,
                prev: tail,
                next: 0
            })
        );
        _tail = uint64(requestId);
        _syncQueueReserve();
        emit RedeemRequest(controller_, owner, requestId, msg.sender, shares);
    }

    /// @inheritdoc ITieredVault
    function fulfilRedemptions(uint256 maxCount) external nonReentrant returns (uint256 count, uint256 assets) {
        if (msg.sender != controller) _checkRole(KEEPER_ROLE);
        uint256 id = nextRequestToFulfil;
        if (_tail == 0) return (0, 0); // nothing queued: no valuation pass
        uint256 cash = freeCash();
        // one exit price for the batch; each payout is at most its shares' worth at it, so the
        // price of the shares left behind cannot fall as the batch proceeds
        (uint256 low,, bool down) = _invested();
        if (down) {
            // an outage decides nothing: no request is priced with a held asset at zero
            emit FulfilmentHeld(id);
            return (0, 0);
        }
        uint256 ta = cash + low + 1;
        uint256 supply = totalSupply() + 10 ** _decimalsOffset();
        // every entry on the list is pending (a cancel unlinks its own): each step funds one
        // request or stops, so the walk costs O(maxCount) whatever was cancelled before
        while (id != 0 && count < maxCount) {
            Entry storage r = _requests[id];
            uint256 estimate = r.assets;
            uint256 a = Math.mulDiv(r.shares, ta, supply);
            if (a > estimate) a = estimate; // a rise after the request stays with the holders
            if (a > cash) break; // strictly in order: no request overtakes an older one
            r.status = RequestStatus.Claimable;
            r.assets = uint128(a); // a <= estimate, a uint128
            // cannot underflow: a <= cash, and every pending estimate was added to _pending
            unchecked {
                cash -= a;
                _pending -= uint128(estimate);
            }
            _claimable += uint128(a);
            _burn(address(this), r.shares);
            assets += a;
            ++count;
            emit RedemptionFulfilled(id, r.shares, a);
            id = r.next;
        }
        if (id == 0) {
            // the tail was funded: the queue is empty, its head the next request to be made
            id = _requests.length;
            _tail = 0;
        }
        nextRequestToFulfil = id;
        if (count != 0) _syncQueueReserve();
    }

    /// @inheritdoc ITieredVault
    function cancelRedeem(uint256 id) external nonReentrant {
        if (id >= _requests.length) revert UnknownRequest(id);
        Entry storage r = _requests[id];
        address party = r.controller;
        if (msg.sender != party && !isOperator[party][msg.sender]) revert NotRequestParty(id, msg.sender);
        if (r.status != RequestStatus.Pending) revert RequestNotPending(id, r.status);
        // cannot overflow: a uint64 timestamp plus an hour
        unchecked {
            uint256 at = uint256(r.requestedAt) + CANCEL_DELAY;
            if (block.timestamp < at) revert CancelTooEarly(id, at);
        }
        r.status = RequestStatus.Cancelled;
        _unlink(id, r.prev, r.next);
        _pending -= r.assets; // the estimate added at request time
        uint256 shares = r.shares;
        _transfer(address(this), r.owner, shares);
        _syncQueueReserve();
        emit RedeemCancelled(id, party, r.owner, shares);
    }

    /// @dev Takes pending request `id` out of the queue in O(1): the walk never meets it.
    function _unlink(uint256 id, uint64 prev, uint64 next) private {
        if (id == nextRequestToFulfil) {
            // the head (its `prev` may be stale: a funded request)
            if (next == 0) {
                nextRequestToFulfil = _requests.length;
                _tail = 0;
            } else {
                nextRequestToFulfil = next;
            }
            return;
        }
        _requests[prev].next = next; // prev is pending: id is not the head
        if (next == 0) _tail = prev;
        else _requests[next].prev = prev;
    }

    /// @inheritdoc ITieredVault
    function claimRedemption(uint256 id, address receiver) external nonReentrant returns (uint256 assets) {
        if (id >= _requests.length) revert UnknownRequest(id);
        Entry storage r = _requests[id];
        if (msg.sender != r.controller && !isOperator[r.controller][msg.sender]) revert NotRequestParty(id, msg.sender);
        if (r.status != RequestStatus.Claimable) revert RequestNotClaimable(id, r.status);
        if (receiver == address(0)) revert ZeroAddress("receiver");
        r.status = RequestStatus.Claimed;
        assets = r.assets;
        _claimable -= uint128(assets);
        _syncQueueReserve();
        IERC20(asset()).safeTransfer(receiver, assets);
        emit RedemptionClaimed(id, r.controller, receiver, assets);
    }

    /* CONTROLLER */

    /// @inheritdoc ITieredVault
    function pullCash(address to, uint256 amount) external nonReentrant {
        if (msg.sender != controller) revert NotController(msg.sender);
        uint256 cash = availableCash();
        if (amount > cash) revert InsufficientCash(amount, cash);
        IERC20(asset()).safeTransfer(to, amount);
        emit CashPulled(to, amount);
    }

    /// @dev Tells the controller the queue's reserve after every change of it, so that its
    /// rebalance(false) can tell the free cash from this vault's token balance alone.
    function _syncQueueReserve() private {
        address c = controller;
        if (c != address(0)) IAssetController(c).syncQueueReserve(uint256(_pending) + _claimable);
    }

    /* ADMIN */

    /// @inheritdoc ITieredVault
    function setController(address controller_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (controller_ == address(0)) revert ZeroAddress("controller");
        if (controller != address(0)) revert ControllerAlreadySet(controller);
        controller = controller_;
        IAssetController(controller_).syncQueueReserve(uint256(_pending) + _claimable);
        emit ControllerSet(controller_);
    }

    /// @inheritdoc ITieredVault
    function setDepositsPaused(bool paused) external {
        _checkPauser(paused);
        depositsPaused = paused;
        emit DepositsPausedSet(paused);
    }

    /// @inheritdoc ITieredVault
    function setWithdrawalsPaused(bool paused) external {
        _checkPauser(paused);
        withdrawalsPaused = paused;
        emit WithdrawalsPausedSet(paused);
    }

    /// @dev Pausing reduces risk: guardian or admin at once. Unpausing: admin only.
    function _checkPauser(bool pausing) private view {
        if (pausing && hasRole(GUARDIAN_ROLE, msg.sender)) return;
        _checkRole(ADMIN_ROLE);
    }

    function decimals() public view override(ERC4626, IERC20Metadata) returns (uint8) {
        return super.decimals();
    }
}
