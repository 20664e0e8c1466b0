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
import {IAssetControllerTypes} from "../interfaces/IAssetControllerTypes.sol";
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

    /// @inheritdoc ITieredVault
    uint256 public constant MAX_MANAGEMENT_FEE_BPS = 200;
    /// @inheritdoc ITieredVault
    uint256 public constant MAX_PERFORMANCE_FEE_BPS = 2_000;
    uint256 private constant _YEAR = 365 days;
    /// @dev highWaterMark's unit: base tokens per whole share, times 1e18 (a whole share is
    /// 10^DECIMALS_OFFSET times a whole base token's units, so the scale is 1e18 * 10^6).
    uint256 private constant _PRICE_SCALE = 1e24;
    /// @dev Management fee time counted at one accrual at most (a fund untouched for longer
    /// owes no more): keeps the fee below the value it is taken from (2% * 10 = 20%).
    uint256 private constant _MAX_ACCRUAL = 10 * _YEAR;
    uint256 private constant _MAX_VALUE = type(uint160).max;

    /// @dev The fee configuration, one slot, read by every entry and exit: both rates 0 (the
    /// default) is the whole fees-off path.
    struct FeeSlot {
        address recipient;
        uint16 managementBps;
        uint16 performanceBps;
        uint40 accruedAt; // the management fee is owed from here
        bool outageExits; // an outage's cash exits wait for the first priced accrual (_outageLift)
    }

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
    // a rate of _fees is above 0: in the slot every entry and exit reads (controller), so the
    // fees-off path reads no slot of its own
    bool private _feesOn;
    // the wind-down's phase (issue 67): Open, Closing (no entries, no cash out to the
    // controller), Closed (exits at the price fixed by close()); in the slot every entry reads
    Phase private _phase;
    // one slot, read by every entry and exit: the queue's two reserves (uint96: 7.9e28 base
    // units, 79 billion tokens of 18 decimals; a request that would pass it is refused) and the
    // cash band of the controller's last mark (see noteMark)
    uint96 private _pending; // upper estimate of what queued, unfunded requests are owed
    uint96 private _claimable; // cash reserved for funded, unclaimed requests
    uint64 private _cashBand; // exponent (8 bits), lo and hi (28 bits each); none: lo > hi (_NO_BAND) or 0
    uint256 public nextRequestToFulfil; // the queue's head, or _requests.length while it is empty
    Entry[] private _requests;
    mapping(address controller => mapping(address operator => bool)) public isOperator;
    FeeSlot private _fees;
    // read and written only while a performance fee is on: the high-water mark (price, see
    // _PRICE_SCALE) and the book, the free cash the vault's own flows and the controller's
    // moves explain (more free cash than the book is a transfer nobody made through the vault)
    // (whole words: a price or a balance has no bound a narrower type could keep; a saturated
    // mark would charge a fee on every later call)
    uint256 private _hwm;
    uint256 private _book;
    // fixed by close(): every exit after it pays shares * _closedAssets / _closedSupply
    uint256 private _closedAssets;
    uint256 private _closedSupply;
    // an outage's cash exits since the last priced accrual (kept only while a performance fee
    // is on): the shares they burned and the cash they took. The first priced accrual lifts
    // the high-water mark by what they left to the holders who stay, valued then (_feesNow).
    uint256 private _outageShares;
    uint256 private _outageCash;

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

    /// @notice 0 while deposits are paused, a held asset's feed is down, or from closing on.
    function maxDeposit(address receiver) public view override(ERC4626, IERC4626) returns (uint256) {
        return depositsPaused || _phase != Phase.Open || _feedDown() ? 0 : super.maxDeposit(receiver);
    }

    /// @notice 0 while deposits are paused, a held asset's feed is down, or from closing on.
    function maxMint(address receiver) public view override(ERC4626, IERC4626) returns (uint256) {
        return depositsPaused || _phase != Phase.Open || _feedDown() ? 0 : super.maxMint(receiver);
    }

    /// @notice What `owner` can take at once: capped by cash not earmarked for the queue (once
    /// closed: by the free cash, at the fixed price, whatever the pause).
    function maxWithdraw(address owner) public view override(ERC4626, IERC4626) returns (uint256) {
        (bool open, uint256 cash) = _exitCash();
        if (!open) return 0;
        uint256 own = super.maxWithdraw(owner);
        return own < cash ? own : cash;
    }

    function maxRedeem(address owner) public view override(ERC4626, IERC4626) returns (uint256) {
        (bool open, uint256 cash) = _exitCash();
        if (!open) return 0;
        uint256 own = balanceOf(owner);
        uint256 cashShares = _convertToShares(cash, Math.Rounding.Floor);
        return own < cashShares ? own : cashShares;
    }

    /// @dev Whether a priced exit is open and the cash it may take: closed, always and all the
    /// free cash (every holder's part of it is fixed); otherwise not while paused, and the cash
    /// not earmarked for the queue.
    function _exitCash() private view returns (bool open, uint256 cash) {
        if (_phase == Phase.Closed) return (true, freeCash());
        return (!withdrawalsPaused, _available());
    }

    /// @notice Shares for `assets` at the entry price: the higher of mark and live valuation.
    /// Fee shares an accrual would mint now are counted in the supply (as in every preview).
    function previewDeposit(uint256 assets) public view override(ERC4626, IERC4626) returns (uint256) {
        (uint256 low, uint256 high, bool down) = _invested();
        uint256 bal = _cashBalance();
        return assets.mulDiv(_supplyNow(low, down, bal) + 10 ** _decimalsOffset(), _free(bal) + high + 1, Math.Rounding.Floor);
    }

    /// @notice Assets for `shares` at the entry price: the higher of mark and live valuation.
    function previewMint(uint256 shares) public view override(ERC4626, IERC4626) returns (uint256) {
        (uint256 low, uint256 high, bool down) = _invested();
        uint256 bal = _cashBalance();
        return shares.mulDiv(_free(bal) + high + 1, _supplyNow(low, down, bal) + 10 ** _decimalsOffset(), Math.Rounding.Ceil);
    }

    /// @dev The exit price (free cash + the lower valuation) over the supply with the fee
    /// shares an accrual would mint now: previewWithdraw/Redeem, convertTo*, max*.
    function _convertToShares(uint256 assets, Math.Rounding rounding) internal view override returns (uint256) {
        if (_phase == Phase.Closed) return assets.mulDiv(_closedSupply, _closedAssets, rounding); // close(): assets > 0
        (uint256 low,, bool down) = _invested();
        uint256 bal = _cashBalance();
        return assets.mulDiv(_supplyNow(low, down, bal) + 10 ** _decimalsOffset(), _free(bal) + low + 1, rounding);
    }

    function _convertToAssets(uint256 shares, Math.Rounding rounding) internal view override returns (uint256) {
        if (_phase == Phase.Closed) return shares.mulDiv(_closedAssets, _closedSupply, rounding);
        (uint256 low,, bool down) = _invested();
        uint256 bal = _cashBalance();
        return shares.mulDiv(_free(bal) + low + 1, _supplyNow(low, down, bal) + 10 ** _decimalsOffset(), rounding);
    }

    /// @dev One read of the vault's cash balance per call: it prices the entry and is the
    /// "before" of the transfer's measurement (only arithmetic between the two, so it is the
    /// balance the transfer starts from).
    /// Fees accrue first (every entry, exit and fulfilment), so the price is the preview's.
    function deposit(uint256 assets, address receiver) public override(ERC4626, IERC4626) nonReentrant returns (uint256 shares) {
        (uint256 low, uint256 high) = _entryValue();
        uint256 bal = _cashBalance();
        uint256 supply = _accrue(low, false, bal);
        shares = assets.mulDiv(supply + 10 ** _decimalsOffset(), _free(bal) + high + 1, Math.Rounding.Floor);
        _pull(_msgSender(), receiver, assets, shares, bal);
        _afterFlow(low, _free(bal), supply, bal + assets);
        _checkBandAt(bal + assets);
    }

    function mint(uint256 shares, address receiver) public override(ERC4626, IERC4626) nonReentrant returns (uint256 assets) {
        (uint256 low, uint256 high) = _entryValue();
        uint256 bal = _cashBalance();
        uint256 supply = _accrue(low, false, bal);
        assets = shares.mulDiv(_free(bal) + high + 1, supply + 10 ** _decimalsOffset(), Math.Rounding.Ceil);
        _pull(_msgSender(), receiver, assets, shares, bal);
        _afterFlow(low, _free(bal), supply, bal + assets);
        _checkBandAt(bal + assets);
    }

    /// @dev One valuation pass instead of OpenZeppelin's two (maxWithdraw + preview): the cash
    /// check replaces maxWithdraw, and _burn enforces the owner's balance. Priced at the exit
    /// price (totalAssets: the lower of mark and live). One read of the cash balance and the
    /// queue's reserve serves the price and the cash check.
    function withdraw(uint256 assets, address receiver, address owner)
        public
        override(ERC4626, IERC4626)
        nonReentrant
        returns (uint256 shares)
    {
        (, shares) = _exit(assets, receiver, owner, true);
    }

    function redeem(uint256 shares, address receiver, address owner)
        public
        override(ERC4626, IERC4626)
        nonReentrant
        returns (uint256 assets)
    {
        (assets,) = _exit(shares, receiver, owner, false);
    }

    /// @dev withdraw's and redeem's one body: `amount` is the assets (`byAssets`, the shares
    /// rounded up) or the shares (the assets rounded down), both toward the fund. Once closed,
    /// at the fixed price (`_exitClosed`). Open, a withdrawal is refused for cash before the
    /// price is read (the caller named its assets), a redemption once its assets are priced.
    function _exit(uint256 amount, address receiver, address owner, bool byAssets)
        private
        returns (uint256 assets, uint256 shares)
    {
        if (_phase == Phase.Closed) {
            (assets, shares) = byAssets
                ? (amount, _convertToShares(amount, Math.Rounding.Ceil))
                : (_convertToAssets(amount, Math.Rounding.Floor), amount);
            _exitClosed(receiver, owner, assets, shares);
            return (assets, shares);
        }
        if (withdrawalsPaused) revert WithdrawalsPaused();
        uint256 bal = _cashBalance();
        (uint256 free, uint256 cash) = _cashAt(bal);
        if (byAssets && amount > cash) revert InsufficientCash(amount, cash);
        (uint256 low,, bool down) = _invested();
        uint256 supply = _accrueExit(low, down, bal);
        (assets, shares) = _exitAmounts(amount, byAssets, free + low + 1, supply + 10 ** _decimalsOffset());
        if (!byAssets && assets > cash) revert InsufficientCash(assets, cash);
        _withdraw(_msgSender(), receiver, owner, assets, shares);
        if (!down) _afterFlow(low, free, supply, bal - assets);
        else _afterOutageExit(assets, shares, free, bal - assets); // pricing unavailable: see there
        _checkBand(cash - assets); // cannot underflow: checked above
    }

    /// @dev An open exit's other amount at the exit price (`value` over `supply`, both with
    /// their virtual unit): the shares for `amount` assets rounded up, or the assets for
    /// `amount` shares rounded down. (A function of its own: inline, `_exit` runs out of stack.)
    function _exitAmounts(uint256 amount, bool byAssets, uint256 value, uint256 supply)
        private
        pure
        returns (uint256 assets, uint256 shares)
    {
        if (byAssets) return (amount, amount.mulDiv(supply, value, Math.Rounding.Ceil));
        return (amount.mulDiv(value, supply, Math.Rounding.Floor), amount);
    }

    /// @dev An exit once closed: at the fixed price (`assets` for `shares`, rounded for the
    /// fund by the caller), no pause, no price read, no fee. The free cash always covers it:
    /// every share's part was fixed out of the free cash at close, each rounded down.
    function _exitClosed(address receiver, address owner, uint256 assets, uint256 shares) private {
        uint256 cash = freeCash();
        if (assets > cash) revert InsufficientCash(assets, cash);
        _withdraw(_msgSender(), receiver, owner, assets, shares);
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

    /// @dev Checks for deposit/mint; returns the exit and the entry valuations.
    function _entryValue() private view returns (uint256 low, uint256 high) {
        if (depositsPaused) revert DepositsPaused();
        if (_phase != Phase.Open) revert FundNotOpen(_phase);
        bool down;
        (low, high, down) = _invested();
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
    /// @dev 0 from closing on: the controller values L1 through this, so it sees no cash to
    /// invest (its rebalance buys nothing) and pullCash refuses every purchase.
    function availableCash() public view returns (uint256) {
        return _phase == Phase.Open ? _available() : 0;
    }

    /// @dev Free cash less what queued requests are owed, floored at 0 (the vault's own checks).
    function _available() private view returns (uint256) {
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

    /// @dev freeCash() and availableCash() at cash balance `bal`, one read of the reserves' slot.
    function _cashAt(uint256 bal) private view returns (uint256 free, uint256 cash) {
        free = _free(bal);
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
        if (_phase == Phase.Closed) revert FundNotOpen(Phase.Closed); // redeem: at once, at the fixed price
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
        _checkBand(_available());
        emit RedeemRequest(controller_, owner, requestId, msg.sender, shares);
    }

    /// @inheritdoc ITieredVault
    function fulfilRedemptions(uint256 maxCount) external nonReentrant returns (uint256 count, uint256 assets) {
        bool closed = _phase == Phase.Closed;
        // once closed anyone: every request is paid the fixed price, nobody chooses anything
        if (msg.sender != controller && !closed) _checkRole(KEEPER_ROLE);
        uint256 id = nextRequestToFulfil;
        if (_tail == 0) return (0, 0); // nothing queued: no valuation pass
        uint256 bal = _cashBalance();
        uint256 cash = _free(bal);
        uint256 low;
        uint256 ta;
        uint256 supply;
        uint256 supplyBefore;
        if (closed) {
            (ta, supply) = (_closedAssets, _closedSupply);
        } else {
            // one exit price for the batch; each payout is at most its shares' worth at it, so
            // the price of the shares left behind cannot fall as the batch proceeds
            bool down;
            (low,, down) = _invested();
            if (down) {
                // an outage decides nothing: no request is priced with a held asset at zero
                emit FulfilmentHeld(id);
                return (0, 0);
            }
            supplyBefore = _accrue(low, false, bal);
            ta = cash + low + 1;
            supply = supplyBefore + 10 ** _decimalsOffset();
        }
        uint256 freeBefore = cash;
        // every entry on the list is pending (a cancel unlinks its own): each step funds one
        // request or stops, so the walk costs O(maxCount) whatever was cancelled before
        while (id != 0 && count < maxCount) {
            Entry storage r = _requests[id];
            uint256 estimate = r.assets;
            uint256 a = Math.mulDiv(r.shares, ta, supply);
            // a rise after the request stays with the holders (once closed: the fixed price)
            if (a > estimate && !closed) a = estimate;
            if (a > cash) break; // strictly in order: no request overtakes an older one
            r.status = RequestStatus.Claimable;
            r.assets = uint128(a); // a <= estimate, a uint128
            // cannot underflow: a <= cash, and every pending estimate was added to _pending
            unchecked {
                cash -= a;
                _pending -= uint96(estimate); // every estimate was added as a uint96
            }
            _claimable = SafeCast.toUint96(_claimable + a); // a <= estimate, or a part of the cash at close
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
        if (count != 0) {
            // a payout below its shares' worth now (the estimate) leaves the rest to the holders:
            // a flow's rise, not performance
            _afterFlow(low, freeBefore, supplyBefore, bal);
            _checkBand(_available());
        }
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
        _checkBand(_available());
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
        IERC20(asset()).safeTransfer(receiver, assets); // free cash unchanged: the book too
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
        if (_phase == Phase.Closed) revert FundNotOpen(Phase.Closed); // redeem: all cash, no penalty
        if (msg.sender != owner && !isOperator[owner][msg.sender]) _spendAllowance(owner, msg.sender, shares);
        // the fees owed so far first (never reverts: nothing accrues while pricing is
        // unavailable), so their shares share the exit's pro rata like any other
        (uint256 supply, uint256 priceBefore) = _accrueBeforeInKind();
        uint256 net;
        (cash, net, supply) = _inKind(shares, supply);
        _burn(owner, shares);
        if (cash != 0) IERC20(asset()).safeTransfer(receiver, cash);
        address c = controller;
        if (c != address(0)) (tokens, amounts) = IInKindPayer(c).payInKind(receiver, net, supply);
        // an exit that pays nothing is refused: the holder keeps the shares, and nobody clears
        // the pricing's stored lines and the cash band (as every exit does) for one share
        if (cash == 0 && !_anyPaid(amounts)) revert ZeroRedemption(shares);
        // the band was solved at the mark the exit lowered (the controller dropped its flag)
        if (_cashBand != 0) _cashBand = _NO_BAND;
        if (c != address(0)) _markAfterInKind(c);
        _afterInKind(cash, shares, net, supply, priceBefore);
        emit RedeemedInKind(msg.sender, receiver, owner, shares, cash);
    }

    /// @dev SEC5-01: the exit's own mark, paid by the exiter. The exit changed every paid
    /// position, so the controller dropped the mark's lines and its cash-band flag, and this
    /// vault its band: until the next mark every entry and exit was priced by a full live pass
    /// and the scheduled rebalance(false) valued and marked in full (two shares, a few wei of
    /// each token, made a 1,000 USDT deposit cost 247,619 gas instead of 157,406 and the
    /// no-op 263,082 instead of 28,411, every block, for 1e-6 USDT). The mark taken here stores
    /// them again at once (noteMark's fee accrual waits: this exit's own price effect is
    /// booked after it, _afterInKind). A mark refused (a held asset's feed down or its
    /// valuation held) leaves them dropped, as before: pricing is unavailable then anyway. A
    /// mark the caller starved of gas is not taken as refused (EIP-150 leaves a 64th here):
    /// the exit reverts, so nobody can choose to leave them dropped.
    function _markAfterInKind(address c) private {
        uint256 g = gasleft();
        try IAssetController(c).mark() {}
        catch {
            if (gasleft() < g / 64) revert InKindMarkStarved();
        }
    }

    /// @inheritdoc ITieredVault
    function previewRedeemInKind(uint256 shares)
        external
        view
        returns (uint256 cash, address[] memory tokens, uint256[] memory amounts)
    {
        (uint256 low,, bool down) = _invested();
        uint256 supply;
        uint256 net;
        (cash, net, supply) = _inKind(shares, _supplyNow(low, down, _cashBalance()));
        address c = controller;
        if (c != address(0)) (tokens, amounts) = IInKindPayer(c).previewPayInKind(net, supply);
    }

    function _anyPaid(uint256[] memory amounts) private pure returns (bool) {
        for (uint256 i; i < amounts.length; ++i) {
            if (amounts[i] != 0) return true;
        }
        return false;
    }

    /// @dev Before an in-kind exit: the fees owed now (never reverts), the supply after them
    /// and, with a performance fee on, the exit price per share then (with pricing unavailable,
    /// at the last mark's valuation of the invested tiers; 0 with the fee off).
    function _accrueBeforeInKind() private returns (uint256 supply, uint256 priceBefore) {
        if (!_feesOn) return (totalSupply(), 0);
        (uint256 low, uint256 high, bool down) = _invested();
        uint256 bal = _cashBalance();
        supply = _accrueExit(low, down, bal);
        // valued as the exit's own mark will value the fund after it (_afterInKind): live; with
        // pricing unavailable, each down or held position at its last good value (SEC5-02)
        if (_fees.performanceBps != 0) priceBefore = _price(_free(bal) + (down ? high : _liveOf(low, high)), supply);
    }

    /// @dev The invested tiers' live value while pricing is available, from pricingValues'
    /// (low, high): the lower and the higher of it and a fresh mark's value, so the one that is
    /// not the mark's (both, when they agree). An in-kind exit's price before it at `low` missed
    /// a rise since the mark, which the exit's own mark then took into the high-water mark's
    /// follow: the recipient forwent the fee on the holders' gain since the mark.
    /// Never reverts (an in-kind exit is never blocked): an answer it cannot read is `low`.
    function _liveOf(uint256 low, uint256 high) private view returns (uint256) {
        if (low == high) return low;
        try IAssetController(controller).markedValues() returns (uint256 l2, uint256 l3) {
            return low == l2 + l3 ? high : low;
        } catch {
            return low;
        }
    }

    /// @dev After an in-kind exit paid `cash` for `shares` (`net` of them paid for, of a supply
    /// `supply` with the virtual shares), with a performance fee on: the cash left the book, and
    /// whatever the exit itself left to the holders who stay is nobody's performance. The
    /// high-water mark rises by the penalty's factor, (supply - net) / (supply - shares) (every
    /// paid part of the fund fell by net / supply, the supply by shares: read with no price),
    /// and then by what the exit left unpaid (an asynchronous position's pending value, a
    /// skipped token, the rounding): the price after it above the price before it times that
    /// factor, which is net / supply of the unpaid value over the stayers' shares whatever
    /// the rest of the fund is valued at. So the stayers' distance to the mark scales by the
    /// penalty's factor alone, as with no exit. (Before: the mark rose by the ratio of the
    /// prices, which also scaled the mark's distance to the price before: in an outage, with a
    /// down asset at its last good value, that moved the mark by other than the exit left.)
    /// Rounded toward the holders.
    function _afterInKind(uint256 cash, uint256 shares, uint256 net, uint256 supply, uint256 priceBefore)
        private
    {
        if (!_feesOn || _fees.performanceBps == 0) return;
        _bookCashOut(cash);
        // supply - shares >= the virtual shares (10 ** 6): _burn refused more than the supply
        uint256 lifted = Math.mulDiv(_hwm, supply - net, supply - shares, Math.Rounding.Ceil);
        if (priceBefore != 0) {
            // after the exit's own mark (_markAfterInKind): the whole fund valued anew, what the
            // exit left unpaid in it; with pricing unavailable, at the mark the controller
            // lowered by what it paid (a skipped token's part stays in it)
            (uint256 low, uint256 high, bool down) = _invested();
            uint256 priceAfter = _price(_free(_cashBalance()) + (down ? high : low), totalSupply());
            // the unpaid part's own lift, added: net / supply of its value over the stayers'
            // shares, whatever the fund's value (so a down asset's stale value cancels out)
            uint256 penaltyOnly = Math.mulDiv(priceBefore, supply - net, supply - shares);
            if (priceAfter > penaltyOnly) lifted += priceAfter - penaltyOnly;
        }
        _hwm = lifted;
    }

    /// @dev The in-kind exit of `shares` at share supply `supplyNow` (with the fee shares an
    /// accrual mints now): the shares paid for (`net`: less the penalty, rounded down), the
    /// supply with the pricing's virtual shares, and their part of the free cash (balance less
    /// the cash reserved for funded claims), rounded down.
    function _inKind(uint256 shares, uint256 supplyNow)
        private
        view
        returns (uint256 cash, uint256 net, uint256 supply)
    {
        supply = supplyNow + 10 ** _decimalsOffset();
        net = shares.mulDiv(_BPS - IN_KIND_PENALTY_BPS, _BPS, Math.Rounding.Floor);
        cash = freeCash().mulDiv(net, supply, Math.Rounding.Floor);
    }

    /* CONTROLLER */

    /// @inheritdoc ITieredVault
    function pullCash(address to, uint256 amount) external nonReentrant {
        if (msg.sender != controller) revert NotController(msg.sender);
        uint256 cash = availableCash(); // 0 from closing on: no purchase
        if (amount > cash) revert InsufficientCash(amount, cash);
        IERC20(asset()).safeTransfer(to, amount);
        _bookCashOut(amount);
        // no event (the token's Transfer and the controller's Purchased say it); no band check: every controller move that pulls cash ends with its mark (noteMark),
        // which solves the band anew and says whether the cash is in it
    }

    /// @inheritdoc ITieredVault
    function noteMark(uint256 l2, uint256 l3, uint256 bands, uint256 cashIn, bool valued)
        external
        returns (bool inBand)
    {
        if (msg.sender != controller) revert NotController(msg.sender);
        uint64 w = _bandOf(l2, l3, bands);
        _cashBand = w;
        inBand = _inBand(w, _available());
        _accrueAtMark(l2 + l3, cashIn, valued);
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

    /* WIND-DOWN */

    /// @inheritdoc ITieredVault
    function phase() external view returns (Phase) {
        return _phase;
    }

    /// @inheritdoc ITieredVault
    function closedPrice() external view returns (uint256 assets, uint256 supply) {
        return (_closedAssets, _closedSupply);
    }

    /// @inheritdoc ITieredVault
    function initiateClosing() external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (_phase != Phase.Open) revert FundNotOpen(_phase);
        _phase = Phase.Closing;
        emit ClosingInitiated();
    }

    /// @inheritdoc ITieredVault
    function close() external nonReentrant {
        if (_phase != Phase.Closing) revert NotClosing(_phase);
        (uint256 low, uint256 high, bool down) = _invested();
        uint256 free = freeCash();
        if (down || high != 0 || free == 0) revert CloseNotReady(high, down);
        _accrue(low, false, _cashBalance()); // the fees owed up to now, then none ever again
        (_fees.managementBps, _fees.performanceBps, _feesOn) = (0, 0, false);
        uint256 supply = totalSupply() + 10 ** _decimalsOffset();
        (_closedAssets, _closedSupply, _phase) = (free, supply, Phase.Closed);
        if (_cashBand != 0) _cashBand = _NO_BAND; // nothing to keep in band any more
        emit FeesSet(0, 0);
        emit Closed(free, supply);
    }

    /* FEES */

    /// @inheritdoc ITieredVault
    function fees()
        external
        view
        returns (address recipient, uint16 managementBps, uint16 performanceBps, uint40 accruedAt)
    {
        FeeSlot memory f = _fees;
        return (f.recipient, f.managementBps, f.performanceBps, f.accruedAt);
    }

    /// @inheritdoc ITieredVault
    function highWaterMark() external view returns (uint256) {
        return _hwm;
    }

    /// @inheritdoc ITieredVault
    function pendingFeeShares() external view returns (uint256) {
        (uint256 low,, bool down) = _invested();
        uint256 bal = _cashBalance();
        return _supplyNow(low, down, bal) - totalSupply();
    }

    /// @inheritdoc ITieredVault
    function setFees(uint16 managementBps, uint16 performanceBps) external {
        if (managementBps > MAX_MANAGEMENT_FEE_BPS) {
            revert FeeAboveCap("managementBps", managementBps, MAX_MANAGEMENT_FEE_BPS);
        }
        if (performanceBps > MAX_PERFORMANCE_FEE_BPS) {
            revert FeeAboveCap("performanceBps", performanceBps, MAX_PERFORMANCE_FEE_BPS);
        }
        if (_phase == Phase.Closed) revert FundNotOpen(Phase.Closed); // no fee accrues once closed
        FeeSlot memory f = _fees;
        // raising either rate adds risk for holders: the timelock; lowering: the admin at once
        if (!hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) {
            if (managementBps > f.managementBps || performanceBps > f.performanceBps) {
                revert RiskIncreaseRequiresTimelock(msg.sender, "setFees");
            }
            _checkRole(ADMIN_ROLE);
        }
        if (f.recipient == address(0) && (managementBps | performanceBps) != 0) revert ZeroAddress("feeRecipient");
        // owed at the old rates up to now, accrued first. While pricing is unavailable nothing
        // can accrue: the time owed is kept for the next accrual (never cancelled by a call of
        // this, even at the same rates), charged then at the new rates, which may not be higher
        // (a raise waits for pricing)
        (uint256 low,, bool down) = _invested();
        uint256 bal = _cashBalance();
        _accrue(low, down, bal);
        uint40 at = uint40(block.timestamp);
        if (down && _feesOn) {
            if (managementBps > f.managementBps || performanceBps > f.performanceBps) revert FeedDown();
            at = f.accruedAt;
        }
        bool outageExits = _fees.outageExits; // as the accrual above left it
        if (f.performanceBps == 0 && performanceBps != 0) {
            // gains made while the fee was off are not charged, and a fund below the mark it
            // had must regain it first: the mark starts at the larger of the two, at a price
            // with every asset priced (never with a down one at zero)
            if (down) revert FeedDown();
            uint256 p = _price(_free(bal) + low, totalSupply());
            if (p > _hwm) _hwm = p;
            _book = _free(bal);
            // exits of an outage while the fee was on, before it was turned off: the mark
            // starts anew at the price now, which already holds what they left behind
            (_outageShares, _outageCash) = (0, 0);
            outageExits = false;
        }
        _fees = FeeSlot(f.recipient, managementBps, performanceBps, at, outageExits);
        _feesOn = (managementBps | performanceBps) != 0;
        emit FeesSet(managementBps, performanceBps);
    }

    /// @inheritdoc ITieredVault
    function setFeeRecipient(address recipient) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (recipient == address(0)) revert ZeroAddress("feeRecipient");
        _accrueFees(); // what is owed so far goes to the old recipient
        _fees.recipient = recipient;
        emit FeeRecipientSet(recipient);
    }

    /// @dev Accrues the fees owed now (reads the pricing itself). Never reverts: with pricing
    /// unavailable (controller reverts, a held asset's feed down or its valuation step held) it
    /// does nothing. For an exit path that does not price through the paths here (call it
    /// before burning shares; `_bookCashOut` after cash leaves).
    /// @return supply The share supply after the fee shares.
    function _accrueFees() internal returns (uint256 supply) {
        if (!_feesOn) return totalSupply();
        (uint256 low,, bool down) = _invested();
        return _accrue(low, down, _cashBalance());
    }

    /// @dev The fees owed now, minted as shares to the recipient: the management fee on the
    /// value (free cash + `low`, the exit valuation) for the time since the last accrual, and
    /// the performance fee on the price's rise above the high-water mark; the mark then rises
    /// to the price after the fee. `bal` is the vault's cash balance now. Nothing while
    /// pricing is unavailable (`down`): the management fee's time is kept for the next accrual
    /// (nothing is charged on a value with a held asset at zero), the mark is kept.
    /// Never reverts (the fee is below the value: see _feesNow).
    /// @return supply The share supply after the fee shares.
    function _accrue(uint256 low, bool down, uint256 bal) private returns (uint256 supply) {
        supply = totalSupply();
        if (!_feesOn || down) return supply;
        FeeSlot memory f = _fees;
        (uint256 shares, uint256 mgmt, uint256 perf, uint256 hwm) = _feesNow(f, low, bal, supply, true);
        _fees.accruedAt = uint40(block.timestamp);
        if (f.performanceBps != 0) {
            (_hwm, _book) = (hwm, _free(bal));
            // the outage's exits are in the mark now (_feesNow lifted it by what they left)
            if (f.outageExits) {
                (_outageShares, _outageCash) = (0, 0);
                _fees.outageExits = false;
            }
        }
        if (shares != 0) {
            _mint(f.recipient, shares);
            supply += shares;
            emit FeesAccrued(f.recipient, mgmt, perf, shares, hwm);
        }
    }

    /// @dev Before an exit (withdraw, redeem, redeemInKind): `_accrue`, and while pricing is
    /// unavailable (`down`) the management fee owed up to the exit, at the last valuation with
    /// every asset priced: the vault's free cash and the kept mark's invested value (the down
    /// or held asset at its last counted price; the valuation the high-water mark follows in
    /// an outage). No performance fee (no rise is known while pricing is unavailable), the mark
    /// and the book kept; the time restarts here. Issue 65: an exit in an outage escaped its
    /// share of the fee owed up to it, which the holders left then paid in its place for the
    /// time before (on their own value only) or nobody paid; now the exiter pays its share
    /// (the fee shares are minted before its own are priced) and the holders left theirs.
    /// @return supply The share supply after the fee shares.
    function _accrueExit(uint256 low, bool down, uint256 bal) private returns (uint256 supply) {
        if (!down) return _accrue(low, false, bal);
        supply = totalSupply();
        if (!_feesOn) return supply;
        FeeSlot memory f = _fees;
        if (f.performanceBps != 0) _seeDonation(bal, supply);
        (uint256 shares, uint256 mgmt,,) = _feesNow(f, _markedInvested(), bal, supply, false);
        _fees.accruedAt = uint40(block.timestamp);
        if (shares != 0) {
            _mint(f.recipient, shares);
            supply += shares;
            emit FeesAccrued(f.recipient, mgmt, 0, shares, _hwm);
        }
    }

    /// @dev While pricing is unavailable, before an exit: cash above the book (a transfer
    /// nobody made through the vault) lifts the high-water mark by the price it adds at supply
    /// `supply`, as the next accrual would (_feesNow), and the book takes it in. The exit may
    /// pay more cash than the book holds; the book would then stop at 0, and the next accrual
    /// would take the donation the exit left for a rise and charge the performance fee on it.
    function _seeDonation(uint256 bal, uint256 supply) private {
        uint256 free = _free(bal);
        uint256 book = _book;
        if (free <= book) return;
        _hwm += _donationLift(free - book, supply);
        _book = free;
    }

    /// @dev What `cash` donated adds to the price per share at supply `supply` (without the
    /// virtual shares), in highWaterMark's unit, rounded up: the high-water mark's lift for a
    /// donation (the accrual's, _feesNow, an outage exit's, _seeDonation, and a pull past the
    /// book's, _bookCashOut), so that none of it is ever charged.
    function _donationLift(uint256 cash, uint256 supply) private view returns (uint256) {
        return Math.mulDiv(cash, _PRICE_SCALE, supply + 10 ** _decimalsOffset(), Math.Rounding.Ceil);
    }

    /// @dev The supply with the fee shares an accrual would mint now (the previews' supply): an
    /// exit's (`_accrueExit`), so with pricing unavailable the management fee at the kept mark.
    function _supplyNow(uint256 low, bool down, uint256 bal) private view returns (uint256 supply) {
        supply = totalSupply();
        if (!_feesOn) return supply;
        (uint256 shares,,,) = _feesNow(_fees, down ? _markedInvested() : low, bal, supply, !down);
        return supply + shares;
    }

    /// @dev What an accrual would do now (fees on): the fee shares, the management and
    /// performance fees in assets, and the high-water mark after. `priced` false (pricing
    /// unavailable, `low` the kept mark's value): the management fee only, the mark as it is.
    /// A donation (cash above the book: a transfer nobody made through the vault) lifts the
    /// mark by the price it adds, so it is never charged; the holders keep all of it.
    function _feesNow(FeeSlot memory f, uint256 low, uint256 bal, uint256 supply, bool priced)
        private
        view
        returns (uint256 shares, uint256 mgmt, uint256 perf, uint256 hwm)
    {
        uint256 v = _free(bal) + low;
        hwm = _hwm;
        // no fee on a value past 2^160 base units (1.4e30 tokens of 18 decimals): keeps every
        // product below (the price, the mark) from overflowing, so an accrual never reverts
        if (v > _MAX_VALUE) return (0, 0, 0, hwm);
        uint256 s = supply + 10 ** _decimalsOffset();
        uint256 dt = block.timestamp - f.accruedAt; // accruedAt is a past block's time
        if (dt > _MAX_ACCRUAL) dt = _MAX_ACCRUAL;
        // at most 2% a year for 10 years: at most a fifth of v
        mgmt = Math.mulDiv(v, f.managementBps * dt, _BPS * _YEAR);
        if (!priced) f.performanceBps = 0; // a copy: an unpriced caller reads only its recipient after
        if (f.performanceBps != 0) {
            uint256 book = _book;
            uint256 free = _free(bal);
            if (free > book) hwm += _donationLift(free - book, supply);
            uint256 p = _price(v, supply);
            if (f.outageExits) hwm += _outageLift(v, supply, p);
            // at most a fifth of the rise, itself below v + 1
            if (p > hwm) perf = Math.mulDiv(p - hwm, s, _PRICE_SCALE) * f.performanceBps / _BPS;
        }
        uint256 fee = mgmt + perf;
        // the shares worth `fee` once minted (cannot underflow: fee is at most 2/5 of v + 1)
        if (fee != 0) shares = Math.mulDiv(fee, s, v + 1 - fee);
        if (f.performanceBps != 0) {
            uint256 after_ = _price(v, supply + shares);
            if (after_ > hwm) hwm = after_;
        }
    }

    /// @dev After an entry's or an exit's own flow while a performance fee is on: the price
    /// rise the flow itself made (an entry above the exit price, rounding the fund keeps, a
    /// payout below its estimate) is nobody's performance: the mark rises by as much. The book
    /// follows the free cash the flow moved (`freeBefore` to the free cash at `balAfter`).
    function _afterFlow(uint256 low, uint256 freeBefore, uint256 supplyBefore, uint256 balAfter) private {
        if (!_feesOn || _fees.performanceBps == 0) return;
        uint256 freeAfter = _free(balAfter);
        uint256 before = _price(freeBefore + low, supplyBefore);
        uint256 after_ = _price(freeAfter + low, totalSupply());
        uint256 hwm = _hwm;
        if (after_ > before) hwm += after_ - before;
        uint256 book = _book + freeAfter; // saturating at 0 below: never reverts an exit
        (_hwm, _book) = (hwm, book > freeBefore ? book - freeBefore : 0);
    }

    /// @dev What the outage's cash exits since the last priced accrual left to the holders
    /// who stay, valued now (`v` at supply `supply`, price `p`): the price now above the price
    /// had they stayed (their shares and their cash back in), in highWaterMark's unit.
    function _outageLift(uint256 v, uint256 supply, uint256 p) private view returns (uint256) {
        uint256 stayed = _price(v + _outageCash, supply + _outageShares);
        return p > stayed ? p - stayed : 0;
    }

    /// @dev After a priced exit while pricing is unavailable (a held asset's feed down or its
    /// valuation held): the exit was priced with that asset at zero (or at its lower
    /// reference), so it left the rest of its worth to the holders who stay. That is the exit's
    /// own price effect, never performance (SEC5-02: Bob's 200,000 of shares paid 160,000 in an
    /// outage, and the first mark after it charged 20% of the 40,000 left behind). What it left
    /// is known only once the asset is priced again, so the exit's shares and cash are kept,
    /// and the first priced accrual lifts the high-water mark by the price the holders who
    /// stay then have above the price had the exits' holders stayed (_outageLift): the same fee
    /// per share as with no exit. (Before: the mark followed at once, at the down asset's last
    /// good value, so its rise since that value was left behind uncounted and charged at the
    /// next mark.) The book follows the cash at once.
    function _afterOutageExit(uint256 assets, uint256 shares, uint256 freeBefore, uint256 balAfter) private {
        if (!_feesOn || _fees.performanceBps == 0) return;
        uint256 book = _book + _free(balAfter); // saturating at 0 below: never reverts an exit
        _book = book > freeBefore ? book - freeBefore : 0;
        _outageShares += shares;
        _outageCash += assets;
        _fees.outageExits = true;
    }

    /// @dev The invested tiers' value an outage's fee arithmetic counts (0 with no controller
    /// or no answer): pricingValues' `high`, which while pricing is unavailable is the live
    /// pass with each down or held position at its last good value scaled to its units now
    /// (the kept mark missed a sale under it and every price move since it). Never an exit's
    /// price: exits stay priced at `low`.
    function _markedInvested() private view returns (uint256 marked) {
        (, marked,) = _invested();
    }

    /// @dev `amount` of free cash left the vault by a path that prices nothing (the controller's
    /// pull, an exit while pricing is unavailable): the book follows, so a later transfer in is
    /// still told apart.
    function _bookCashOut(uint256 amount) internal {
        if (!_feesOn || _fees.performanceBps == 0) return;
        uint256 book = _book;
        if (amount <= book) {
            _book = book - amount;
            return;
        }
        // more than the book: the rest was a transfer made outside the vault (cash above the
        // book), leaving before the vault saw it (the controller invests it). It lifts the
        // high-water mark by the price it added, as the next accrual would have (_feesNow), so
        // that the value it becomes is never charged
        _hwm += _donationLift(amount - book, totalSupply());
        _book = 0;
    }

    /// @dev At a mark (noteMark): the cash the controller's moves sent this vault from the
    /// fund's own positions (`cashIn`: sales, an unspent rest, a settlement) joins the book,
    /// then the fees on the fund as the controller just marked it (`invested`, which its
    /// pricing answers until it moves), only for a mark taken now (`valued`: a mark kept
    /// through an outage or a held valuation is not a valuation, even in the block of the mark
    /// it keeps: its values are that mark's, which a sale since did not lower, so the sale's
    /// cash would be counted twice and charged as a rise). The moves' pulls left the book as they
    /// went (pullCash), so cash above the book then is a transfer made outside the vault,
    /// before the move or during it, and is never charged. (Before: a move's mark set the book
    /// to the whole free cash, so a donation made before a keeper's move was taken for a rise
    /// and charged a fifth of it.)
    function _accrueAtMark(uint256 invested, uint256 cashIn, bool valued) private {
        if (!_feesOn) return;
        if (cashIn != 0 && _fees.performanceBps != 0) _book += cashIn;
        // a mark taken inside this vault's own call (the in-kind exit's, _markAfterInKind)
        // accrues nothing: that call books its own flow and accrued before it
        if (!valued || _reentrancyGuardEntered()) return;
        _accrue(invested, false, _cashBalance());
    }

    /// @dev The exit price per share, in highWaterMark's unit, at value `v` and supply `supply`.
    /// Past _MAX_VALUE the value is taken as _MAX_VALUE (no fee is charged there: _feesNow).
    function _price(uint256 v, uint256 supply) private pure returns (uint256) {
        if (v > _MAX_VALUE) v = _MAX_VALUE;
        return Math.mulDiv(v + 1, _PRICE_SCALE, supply + 10 ** DECIMALS_OFFSET);
    }

    function decimals() public view override(ERC4626, IERC20Metadata) returns (uint8) {
        return super.decimals();
    }
}
