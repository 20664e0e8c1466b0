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
import {IInKindPayer} from "../interfaces/IInKindPayer.sol";
import {ReleaseLib} from "../libraries/ReleaseLib.sol";

/// @title TieredVault
/// @notice See ITieredVault. OpenZeppelin's ERC4626 with a decimals offset against the
/// inflation attack; valuation of the positions comes from the AssetController's oracle mark.
contract TieredVault is ITieredVault, ERC4626, AccessControl, ReentrancyGuardTransient {
    /// @notice The contract release this code belongs to (ASCII in a bytes32, e.g. "0.2.0"): the
    /// keepers refuse to drive contracts of a release their ABIs do not belong to.
    bytes32 public constant RELEASE = ReleaseLib.RELEASE;

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
    // one slot, read by every entry and exit: the queue's two reserves (uint96: 7.9e28 base
    // units, 79 billion tokens of 18 decimals; a request that would pass it is refused) and the
    // cash band of the controller's last mark (see noteMark)
    uint96 private _pending; // upper estimate of what queued, unfunded requests are owed
    uint96 private _claimable; // cash reserved for funded, unclaimed requests
    uint64 private _cashBand; // exponent (8 bits), lo and hi (28 bits each); none: lo > hi (_NO_BAND) or 0
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
        _checkBandAt(bal + assets);
    }

    function mint(uint256 shares, address receiver) public override(ERC4626, IERC4626) returns (uint256 assets) {
        uint256 high = _entryValue();
        uint256 bal = _cashBalance();
        assets = shares.mulDiv(_free(bal) + high + 1, totalSupply() + 10 ** _decimalsOffset(), Math.Rounding.Ceil);
        _pull(_msgSender(), receiver, assets, shares, bal);
        _checkBandAt(bal + assets);
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
        _checkBand(cash - assets); // cannot underflow: checked above
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
        _checkBand(cash - assets);
    }

    /// @dev Measures what arrived: a fee-on-transfer (or otherwise short-paying) base token
    /// would mint shares for assets the vault never received.
    function _deposit(address caller, address receiver, uint256 assets, uint256 shares) internal override {
        uint256 bal = _cashBalance();
        _pull(caller, receiver, assets, shares, bal);
        _checkBandAt(bal + assets);
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
        uint96 est = SafeCast.toUint96(estimate);
        // the queue's total in its uint96 slot: past it, refused naming the total, not a panic;
        // and what fulfilment will reserve for it beside the unclaimed (`_claimable`, also a
        // uint96, which fulfilment raises by at most each estimate) refused here as well, so a
        // fulfilment can never pass that slot
        uint256 total = uint256(_pending) + est;
        _pending = SafeCast.toUint96(total);
        total += _claimable;
        if (total > type(uint96).max) revert SafeCast.SafeCastOverflowedUintDowncast(96, total);
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
        _checkBand(availableCash());
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
                _pending -= uint96(estimate); // every estimate was added as a uint96
            }
            _claimable += uint96(a); // a <= estimate
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
        if (count != 0) _checkBand(availableCash());
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
        _pending -= uint96(r.assets); // the estimate added at request time, a uint96
        uint256 shares = r.shares;
        _transfer(address(this), r.owner, shares);
        _checkBand(availableCash());
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
        // the cash and the reserve fall together: the available cash is unchanged
        _claimable -= uint96(assets); // at most what was added as a uint96
        IERC20(asset()).safeTransfer(receiver, assets);
        emit RedemptionClaimed(id, r.controller, receiver, assets);
    }

    /* IN-KIND EXIT */

    /// @inheritdoc ITieredVault
    uint256 public constant IN_KIND_PENALTY_BPS = 50;

    /// @inheritdoc ITieredVault
    /// @dev No pause and no price is read: withdrawalsPaused stops the priced exits (a wrong
    /// price is what a pause guards against), never this one (holders can always leave). The
    /// controller refuses it mid-move; this vault's guard refuses it reentrantly.
    function redeemInKind(uint256 shares, address receiver, address owner)
        external
        nonReentrant
        returns (uint256 cash, address[] memory tokens, uint256[] memory amounts)
    {
        if (receiver == address(0)) revert ZeroAddress("receiver");
        if (shares == 0) revert ZeroRedemption(0);
        if (msg.sender != owner && !isOperator[owner][msg.sender]) _spendAllowance(owner, msg.sender, shares);
        _beforeInKind();
        uint256 supply;
        uint256 net;
        (cash, net, supply) = _inKind(shares);
        _burn(owner, shares);
        if (cash != 0) IERC20(asset()).safeTransfer(receiver, cash);
        address c = controller;
        if (c != address(0)) (tokens, amounts) = IInKindPayer(c).payInKind(receiver, net, supply);
        // the band was solved at the mark the exit lowered (the controller dropped its flag)
        if (_cashBand != 0) _cashBand = _NO_BAND;
        emit RedeemedInKind(msg.sender, receiver, owner, shares, cash);
    }

    /// @inheritdoc ITieredVault
    function previewRedeemInKind(uint256 shares)
        external
        view
        returns (uint256 cash, address[] memory tokens, uint256[] memory amounts)
    {
        uint256 supply;
        uint256 net;
        (cash, net, supply) = _inKind(shares);
        address c = controller;
        if (c != address(0)) (tokens, amounts) = IInKindPayer(c).previewPayInKind(net, supply);
    }

    /// @dev Fees accrue here (c2): before the exit's part of the supply is taken, so the fee
    /// shares minted share the exit's pro-rata like any other.
    function _beforeInKind() private {}

    /// @dev The in-kind exit of `shares`: the shares paid for (`net`: less the penalty, rounded
    /// down), the supply with the pricing's virtual shares, and their part of the free cash
    /// (balance less the cash reserved for funded claims), rounded down.
    function _inKind(uint256 shares) private view returns (uint256 cash, uint256 net, uint256 supply) {
        supply = totalSupply() + 10 ** _decimalsOffset();
        net = shares.mulDiv(_BPS - IN_KIND_PENALTY_BPS, _BPS, Math.Rounding.Floor);
        cash = freeCash().mulDiv(net, supply, Math.Rounding.Floor);
    }

    /* CONTROLLER */

    /// @inheritdoc ITieredVault
    function pullCash(address to, uint256 amount) external nonReentrant {
        if (msg.sender != controller) revert NotController(msg.sender);
        uint256 cash = availableCash();
        if (amount > cash) revert InsufficientCash(amount, cash);
        IERC20(asset()).safeTransfer(to, amount);
        // no event (the token's Transfer and the controller's Purchased say it); no band check: every controller move that pulls cash ends with its mark (noteMark),
        // which solves the band anew and says whether the cash is in it
    }

    /// @inheritdoc ITieredVault
    function noteMark(uint256 l2, uint256 l3, uint256 bands) external returns (bool inBand) {
        if (msg.sender != controller) revert NotController(msg.sender);
        uint64 w = _bandOf(l2, l3, bands);
        _cashBand = w;
        inBand = _inBand(w, availableCash());
    }

    /// @inheritdoc ITieredVault
    function cashBand() external view returns (uint256 lo, uint256 hi) {
        uint256 w = _cashBand;
        if (w == 0) return (1, 0); // no mark noted yet
        uint256 e = w >> 56;
        return (((w >> 28) & _BAND_MASK) << e, (w & _BAND_MASK) << e);
    }

    uint256 private constant _BAND_MASK = (1 << 28) - 1;
    /// @dev No band: lo 1 > hi 0. Never 0 once a mark was noted, so that a step leaving the band
    /// does not empty the slot the queue's reserves share (a zero slot costs 20,000 to refill).
    uint64 private constant _NO_BAND = 1 << 28;

    /// @dev After every change of the available cash made here (`available` now): the first
    /// that leaves the mark's band tells the controller, once (the band is dropped with it),
    /// so that its rebalance(false) stops answering from the mark's flag. A transfer to this
    /// vault that runs no code of it (a donation) is seen at the next change made here, or by
    /// the next mark; the mark goes stale after navMaxAge (at most a day) in any case.
    function _checkBand(uint256 available) private {
        uint64 w = _cashBand;
        if (w != _NO_BAND && w != 0 && !_inBand(w, available)) {
            _cashBand = _NO_BAND;
            IAssetController(controller).cashLeftBand();
        }
    }

    /// @dev `_checkBand` at a cash balance of `bal` (an entry's: the balance it read plus what
    /// arrived), the reserves read with the band (one slot).
    function _checkBandAt(uint256 bal) private {
        uint64 w = _cashBand;
        if (w == _NO_BAND || w == 0) return;
        uint256 reserved = uint256(_pending) + _claimable;
        if (!_inBand(w, bal > reserved ? bal - reserved : 0)) {
            _cashBand = _NO_BAND;
            IAssetController(controller).cashLeftBand();
        }
    }

    /// @dev `c` lies in band `w`: lo <= c <= hi at the band's scale (never for _NO_BAND; `w` is
    /// never 0 here: noteMark stores no 0, and _checkBand skips it).
    function _inBand(uint256 w, uint256 c) private pure returns (bool) {
        uint256 e = w >> 56;
        return c >= ((w >> 28) & _BAND_MASK) << e && c <= (w & _BAND_MASK) << e;
    }

    /// @dev The available cash c for which every tier is inside its band by the controller's
    /// test (BpsLib.ratio of c, l2 and l3 to their sum, rounded down, within [minBps, maxBps]),
    /// at invested values l2 and l3: each tier's test is monotone in c, so the set is one
    /// interval [lo, hi], solved here in closed form and then checked at both ends with the
    /// controller's own test (a rounding slip can only shrink the band to none). Stored rounded
    /// inward to 28 bits at a shared scale, and capped at 256 times the invested value above
    /// lo: a band that says "in" is always in (cash near an edge is decided by a full valuation).
    /// Unchecked: l2 and l3 are the controller's uint112 mark and every bps a uint16, so no sum or
    /// product here comes near 2^256, and each subtraction follows the test that it cannot wrap.
    function _bandOf(uint256 l2, uint256 l3, uint256 bands) private pure returns (uint64) {
        unchecked {
            uint256 m = l2 + l3;
            uint256 min0 = bands & 0xffff;
            if (m == 0 || min0 >= _BPS) return _NO_BAND;
            uint256 max0 = (bands >> 16) & 0xffff;
            // L1: floor(c * BPS / (c + m)) >= min0  <=>  c * (BPS - min0) >= min0 * m
            uint256 lo = Math.ceilDiv(min0 * m, _BPS - min0);
            // L1: floor(...) <= max0  <=>  c * (BPS - max0 - 1) < (max0 + 1) * m; always when max0 >= BPS - 1
            uint256 hi = lo + (m << 8);
            if (max0 + 1 < _BPS) {
                uint256 h = Math.ceilDiv((max0 + 1) * m, _BPS - max0 - 1) - 1;
                if (h < hi) hi = h;
            }
            for (uint256 t = 1; t < 3; ++t) {
                uint256 v = t == 1 ? l2 : l3;
                uint256 w = bands >> (32 * t);
                uint256 minBps = w & 0xffff;
                // floor(v * BPS / g) >= minBps  <=>  g <= floor(v * BPS / minBps)
                if (minBps != 0) {
                    uint256 g = v * _BPS / minBps;
                    if (g < m) return _NO_BAND;
                    if (g - m < hi) hi = g - m;
                }
                // floor(v * BPS / g) <= maxBps  <=>  g >= floor(v * BPS / (maxBps + 1)) + 1
                uint256 gMin = v * _BPS / (((w >> 16) & 0xffff) + 1) + 1;
                if (gMin > m && gMin - m > lo) lo = gMin - m;
            }
            if (lo > hi || !_tiersInBand(lo, l2, l3, bands) || !_tiersInBand(hi, l2, l3, bands)) return _NO_BAND;
            uint256 e = hi >> 28 == 0 ? 0 : Math.log2(hi) - 27; // hi >> e fits 28 bits
            uint256 loQ = Math.ceilDiv(lo, 1 << e);
            uint256 hiQ = hi >> e;
            if (loQ > hiQ || hiQ == 0) return _NO_BAND; // never 0: that is "no mark noted yet"
            return uint64((e << 56) | (loQ << 28) | hiQ); // cannot truncate: e < 256, each part < 2^28
        }
    }

    uint256 private constant _BPS = 10_000; // BpsLib.BPS

    /// @dev The controller's in-band test (AssetController._inBand: BpsLib.ratio, which is
    /// v * BPS / g rounded down) for all three tiers at available cash c.
    function _tiersInBand(uint256 c, uint256 l2, uint256 l3, uint256 bands) private pure returns (bool) {
        unchecked {
            uint256 g = c + l2 + l3; // c is at most lo + (l2 + l3) * 2^8: see _bandOf
            if (g == 0) return false;
            for (uint256 t; t < 3; ++t) {
                uint256 w = bands >> (32 * t);
                uint256 r = (t == 0 ? c : t == 1 ? l2 : l3) * _BPS / g;
                if (r < (w & 0xffff) || r > ((w >> 16) & 0xffff)) return false;
            }
            return true;
        }
    }

    /* ADMIN */

    /// @inheritdoc ITieredVault
    function setController(address controller_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (controller_ == address(0)) revert ZeroAddress("controller");
        if (controller != address(0)) revert ControllerAlreadySet(controller);
        controller = controller_;
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
