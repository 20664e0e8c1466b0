// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {IAssetControllerTypes} from "../interfaces/IAssetControllerTypes.sol";
import {IAssetAdapter} from "../interfaces/IAssetAdapter.sol";
import {ITieredVault} from "../interfaces/ITieredVault.sol";
import {OracleLib} from "../libraries/OracleLib.sol";
import {BpsLib} from "../libraries/BpsLib.sol";
import {WindowBudgetLib} from "../libraries/WindowBudgetLib.sol";

/// @title AssetControllerStorage
/// @notice The AssetController's storage, constants, the helpers its configuration shares and
/// the moves' window-budget booking (the code the symbolic proofs run on), inherited by the
/// controller and by its admin module (AssetControllerAdmin), which runs by delegatecall on
/// the controller's storage: one layout, declared once.
/// @dev Split for the EIP-170 size limit: the configuration functions live in the module, the
/// moves and valuation in the controller. Never add state to either contract, only here.
abstract contract AssetControllerStorage is IAssetControllerTypes, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using OracleLib for OracleLib.Feed;

    /* ROLES AND CONSTANTS */

    bytes32 public constant ADMIN_ROLE = keccak256("ADMIN_ROLE");
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    bytes32 public constant KEEPER_ROLE = keccak256("KEEPER_ROLE");
    bytes32 public constant REBALANCER_ROLE = keccak256("REBALANCER_ROLE");
    /// @dev `_rebalanceTag` bits: the keeper's own rebalance, and the scheduled one (any
    /// executor triggers it at a moment of its choosing, so also inside a sandwich).
    uint8 internal constant _TAG_KEEPER = 1;
    uint8 internal constant _TAG_REBALANCER = 2;

    uint256 public constant MAX_ASSETS = 16;
    uint16 public constant MAX_SLIPPAGE_LIMIT = 2_000;
    uint32 public constant MAX_NAV_AGE_LIMIT = 1 days;
    /// @dev rebalance() and allocateToLayer() leave 1% of each concentration limit unused, so
    /// the swap's own slippage cannot push an asset over its limit and revert the whole move.
    uint256 internal constant _HEADROOM_BPS = 9_900;
    uint256 internal constant _FULFIL_BATCH = 50;
    /// @dev Transient slot: non-zero from a move's first step to its mark (`_storeMark`), while
    /// users' pricing refuses (MovesUnderWay). A short number, for the size limit: this
    /// contract's other transient slots are _SETTLED_SLOT and ReentrancyGuardTransient's (a
    /// keccak hash).
    uint256 internal constant _MOVING_SLOT = 0x4d4f5645; // "MOVE"
    /// @dev Transient slot: a settlement's cash sent the vault (AssetControllerAdmin._settle),
    /// which the mark the settlement takes next hands over with the moves' (`Snap.toVault`) as
    /// ITieredVault.noteMark's `cashIn`, and clears: the vault books them as the fund's own
    /// cash, so that only cash above its book is a donation. A settlement whose mark is
    /// refused (a held asset's feed down) leaves it in the slot for the transaction's next
    /// mark, if any (what the vault books after the transaction is untested).
    uint256 internal constant _SETTLED_SLOT = 0x5641554c54; // "VAULT"

    /* STORAGE */

    /// @dev Three slots, laid out for the valuation pass: the first holds what every valuation
    /// reads of a position, held or not (the adapter, whether it is instant, its tier, what
    /// pricing needs of the feed), the second the feed and its lower bound, the third the cap
    /// and the upper bound, so the snapshot's three cold slots of a held asset leave nothing
    /// cold for the moves' cap checks. `_feedOf` gives the OracleLib.Feed. minAnswer fits in
    /// 96 bits (`_checkFeed` refuses more). What the mark counted (value, units) is per list
    /// index in `_marked`.
    struct Asset {
        IAssetAdapter adapter;
        uint32 heartbeat; // the feed's max seconds since updatedAt
        uint8 feedDecimals;
        uint8 tokenDecimals;
        uint8 tier;
        bool instant;
        // vouched for (timelock) as a feed that bumps its round on every answer: see setRoundsBumped
        bool roundsBumped;
        uint16 maxConcentrationBps;
        // a valuation step bound is set (`_guards`): only then is its slot read on a price read
        // (the slot's top byte, which AssetController._heldRef reads in assembly)
        bool bounded;
        AggregatorV3Interface feed;
        uint96 minAnswer; // inclusive sanity bounds on the feed's raw answer
        uint128 cap;
        uint128 maxAnswer;
    }

    /// @dev What the last mark (or move) counted for the position at one list index, in one
    /// slot: its value (read by users' cheap path in place of a position whose feed answered
    /// anew) and its token units (users' pricing counts at most these, so a third party's
    /// transfer in counts from the next mark). Kept in list order by removeAsset. `listed` is
    /// set by addAsset and kept by every mark, so that a mark's write never fills an empty slot
    /// (20,000 gas a position the first time it is bought, and again after each full exit).
    struct MarkedPosition {
        uint120 value;
        bool listed;
        uint128 units;
    }

    /// @dev A valuation step bound (issue 54): an answer further from `price` (the raw feed
    /// answer the last mark or move counted, or acceptPrice set; 0: none yet, the next counted
    /// answer becomes it) than stepBps + perDayBps * (now - at) / 1 day is held
    /// (PriceStepLib). `stepBps` and `perDayBps` both 0: no bound (`Asset.bounded` false).
    struct PriceGuard {
        uint16 stepBps;
        uint16 perDayBps;
        uint32 at;
        uint128 price; // at most the feed's maxAnswer (uint128)
    }

    /// @dev One valuation pass over every asset.
    struct Snap {
        uint256 gross;
        uint256[3] tierValues; // 0 = the vault's cash not earmarked for redemptions
        uint256[] values; // per asset, in list order, base units
        // per asset, its feed's checked answer once this call has read it (0: not yet, or down);
        // a feed answers the same within a transaction, so each is read once for the moves
        uint256[] prices;
        bool down; // a held asset's feed is down: it is valued at zero (pending cash aside)
        // rebalance() only: instant moves fill up to the internal bound and carry the rest
        bool within;
        // rebalance() by a REBALANCER_ROLE holder (a run an outsider times): trades only at
        // prices nobody sets in that block; a pool venue fills nothing (left to the keeper)
        bool scheduled;
        bool cut; // a move of the keeper's own rebalance was cut at the internal bound
        // this contract's own cash balance plus 1, once a purchase has read it (0: not yet):
        // every move leaves it where it found it (what comes back goes on to the vault)
        uint256 cashHeld;
        // per asset, the token balance `values` counts (pending tokens aside): read by the
        // snapshot, kept current by every move; the mark stores it (`MarkedPosition.units`)
        uint256[] units;
        // per asset, its mark line (see _LIVE_ONLY) made from the feed's words the snapshot or a
        // move priced `values` at (0: empty then, no feed read); the mark writes these
        uint256[] lines;
        // the earliest a fresh answer read for `lines` goes stale (MarkLines.validUntil)
        uint256 validUntil;
        // the tiers this call bought into (bit t: tier t), whose fund-wide after-buy guards
        // AssetController._checkBuys runs once, after the call's last buy
        uint256 bought;
        // the lowest non-zero gross a buy of this call left (0: none): those guards' ratios are
        // taken over it
        uint256 buyGross;
        // the window budgets' usage as this call's legs leave it, once read (`budgetRead`) from
        // storage at the first leg; AssetController._afterMoves writes it after the last
        uint256 lossUsed;
        uint256 notionalUsed;
        bool budgetRead;
        // bit i: position i's price was read and it has a step bound (`Asset.bounded`); a mark
        // that stands sets those positions' references to the price it counted (`_guards`)
        uint256 guarded;
        // the asset list as the snapshot read it (`_list`, in list order): the moves index it
        // instead of reading the list again, which nothing can change under them (no
        // configuration change while the controller's guard is entered: `_notDuringMove`)
        address[] tokens;
        // the base tokens this call's moves sent the vault from the fund's positions (a sale's
        // proceeds, a purchase's unspent rest): the mark hands them over (noteMark's `cashIn`)
        uint256 toVault;
    }

    /// @dev All that rebalance(false) reads when it has nothing to do, in one slot: the pause
    /// flag, whether a sequencer feed is set, navMaxAge, the mark's time and whether the vault's
    /// available cash is in the mark's cash band. The writers: bands `_setTiers` (which drops
    /// cashInBand: the band was solved for the old bands), navMaxAge `_setRisk`, paused
    /// `_pause`/`_unpause`, sequencerOn the admin's setSequencerFeed, markedAt and cashInBand
    /// `_storeMark` (from the vault's noteMark), cashInBand also the vault (cashLeftBand).
    struct Hot {
        uint96 bands; // tier t's minBps at bit 32t, its maxBps at bit 32t + 16
        uint32 navMaxAge; // seconds a stored mark may serve users' pricing and the no-op
        bool paused;
        bool sequencerOn; // _sequencer != 0
        uint32 markedAt; // = _markedAt (kept beside the mark for users' pricing)
        bool cashInBand; // the vault's available cash inside the mark's band, as the vault says
    }

    /// @dev RiskParams less navMaxAge, which lives in `_hot`.
    struct Risk {
        uint16 maxSlippageBps;
        uint16 maxValueLossBps;
        uint16 maxTop3Bps;
        uint128 minMoveValue;
    }

    /// @dev What users' pricing needs to know that nothing priced has changed since the mark
    /// (AssetController._standing): `at` is the mark the lines were written with (0: no
    /// lines, a configuration change or a mark kept through an outage), `validUntil` the
    /// earliest a held asset's marked answer (fresh then) goes stale, `n` the listed assets then, and
    /// `lines` the contract whose code holds their lines (SSTORE2: one cold account and a
    /// copy instead of one cold slot per asset; rewritten only when a line changes).
    struct MarkLines {
        uint32 validUntil;
        uint32 at;
        uint8 n;
        address lines;
    }

    /// @dev A mark line (per listed asset, list order): the feed (bits 0-159) and either a
    /// 94-bit fingerprint (bits 160-253) of the five words its latestRoundData() answered when
    /// the mark priced the position, or, for a feed vouched for as bumping its round on every
    /// answer (`Asset.roundsBumped`, timelock), the round id (bits 160-239) and _ROUND_LINE; 0 for a position empty at the mark; _LIVE_ONLY for one whose
    /// value can change with the feed's words unchanged (an asynchronous adapter's pending
    /// request) or whose feed answered nothing usable, always read live. No round id is
    /// trusted: a feed that keeps its round across answers still changes the fingerprint. What
    /// the mark counted for each held position is in `_marked`, so a position whose feed
    /// answers anew is read live in its place and the others still come from the mark.
    uint256 internal constant _LIVE_ONLY = 1 << 255;
    /// @dev `Snap.prices[i]` of a position whose answer its step bound holds (`_guards`).
    uint256 internal constant _HELD = type(uint256).max;
    uint256 internal constant _ROUND_LINE = 1 << 254;

    ITieredVault internal immutable _vault;
    IERC20 internal immutable _cash;
    uint8 internal immutable _baseDecimals;

    uint16[3] internal _targets; // each tier's targetBps (bands in _hot)
    mapping(address token => Asset) internal _assets;
    address[] internal _list;
    address[3] internal _default;
    Risk internal _risk;
    // the last mark, per invested tier (L2, L3), in one slot: users' pricing reads their sum,
    // rebalance(false) decides from it (with the vault's cash) while it is fresh
    uint112 internal _markL2;
    uint112 internal _markL3;
    uint32 internal _markedAt; // unix seconds (fits until 2106)
    Hot internal _hot;
    MoveLimits internal _limits;
    WindowBudgetLib.Usage internal _usage;
    uint128 internal _dustValue;
    mapping(address token => OracleLib.Feed) internal _fallbackFeeds;
    address internal _sequencer;
    uint32 internal _sequencerGrace;
    /// @dev Which of KEEPER_ROLE (_TAG_KEEPER) and REBALANCER_ROLE (_TAG_REBALANCER) an account
    /// holds, as bits (0: may not call rebalance): one slot for the rebalance's role check and
    /// its leg bound, kept by `_grantRole`/`_revokeRole` from AccessControl's roles.
    mapping(address account => uint8) internal _rebalanceTag;
    MarkLines internal _markLines;
    // per list index, what the last mark or move counted (one slot each: see MarkedPosition)
    MarkedPosition[MAX_ASSETS] internal _marked;
    /// @dev Per list index (like `_marked`, kept in list order by removeAsset), its valuation
    /// step bound and the reference price it holds answers against: one slot, read on a price
    /// read only when `Asset.bounded`; AssetController reads and writes it in assembly
    /// (PriceGuard's layout: stepBps at bit 0, perDayBps 16, at 32, price 64).
    PriceGuard[MAX_ASSETS] internal _guards;

    constructor(ITieredVault vault_) {
        if (address(vault_) == address(0)) revert ZeroAddress("vault");
        _vault = vault_;
        _cash = IERC20(vault_.asset());
        _baseDecimals = IERC20Metadata(vault_.asset()).decimals();
    }

    /* PAUSE (OpenZeppelin's Pausable, with its flag in `_hot`) */

    modifier whenNotPaused() {
        if (_hot.paused) revert EnforcedPause();
        _;
    }

    function _pause() internal whenNotPaused {
        _hot.paused = true;
        emit Paused(msg.sender);
    }

    function _unpause() internal {
        if (!_hot.paused) revert ExpectedPause();
        _hot.paused = false;
        emit Unpaused(msg.sender);
    }

    /* ROLES: AccessControl's, with the rebalance check's index kept current */

    function _grantRole(bytes32 role, address account) internal override returns (bool granted) {
        granted = super._grantRole(role, account);
        if (granted) _tagRebalance(role, account);
    }

    function _revokeRole(bytes32 role, address account) internal override returns (bool revoked) {
        revoked = super._revokeRole(role, account);
        if (revoked) _tagRebalance(role, account);
    }

    function _tagRebalance(bytes32 role, address account) private {
        if (role == KEEPER_ROLE || role == REBALANCER_ROLE) {
            _rebalanceTag[account] = (hasRole(KEEPER_ROLE, account) ? _TAG_KEEPER : 0)
                | (hasRole(REBALANCER_ROLE, account) ? _TAG_REBALANCER : 0);
        }
    }

    /* TIERS AND RISK */

    /// @dev Tier t's band (minBps, maxBps) from `_hot.bands`.
    function _band(uint96 bands, uint256 t) internal pure returns (uint256 minBps, uint256 maxBps) {
        uint256 w = uint256(bands) >> (32 * t);
        return (w & 0xffff, (w >> 16) & 0xffff);
    }

    /// @dev Reverts unless t is an invested tier (1 = L2, 2 = L3): the buffer (0) holds cash only.
    function _requireInvestedTier(uint8 t) internal pure {
        if (t == 0 || t > 2) revert InvalidTier(t);
    }

    function _tier(uint256 t) internal view returns (TierConfig memory c) {
        (uint256 lo, uint256 hi) = _band(_hot.bands, t);
        // cannot truncate: each was stored from a uint16
        c = TierConfig(_targets[t], uint16(lo), uint16(hi));
    }

    function _riskParams() internal view returns (RiskParams memory) {
        Risk memory r = _risk;
        return RiskParams(r.maxSlippageBps, r.maxValueLossBps, r.maxTop3Bps, _hot.navMaxAge, r.minMoveValue);
    }

    function _requireAsset(address token) internal view returns (Asset storage a) {
        a = _assets[token];
        if (address(a.adapter) == address(0)) revert UnknownAsset(token);
    }

    /// @dev `token`'s index in the list, for the controller and its admin module alike (one
    /// copy, issue 64). UnknownAsset for a token not listed: the list holds every registered
    /// asset and nothing else (addAsset pushes, removeAsset pops), so this is also the check
    /// that `token` is registered.
    function _indexOf(address token) internal view returns (uint256 i) {
        uint256 n = _list.length;
        for (; i < n; ++i) {
            if (_list[i] == token) return i;
        }
        revert UnknownAsset(token);
    }

    /* WINDOW BUDGETS (the moves' booking: tests/symbolic/WindowBudget.t.sol proves this code) */

    /// @dev Books a move on the window budgets; reverts with the budget's error past either.
    /// The usage is read from storage at the call's first leg (drained to now) and carried in
    /// the snapshot; `_afterMoves` writes it once, after the call's last leg. The same numbers
    /// as writing it at every leg: once written, the usage's clock is now, so each later
    /// leg of the call read it back undrained; so each leg reverts where it did, naming the
    /// same usage.
    function _useBudget(Snap memory s, uint256 lost, uint256 moved) internal view {
        MoveLimits memory l = _limits;
        if (l.window == 0) revert NotionalBudgetExceeded(moved, 0); // never configured
        (uint256 a, uint256 b) = (s.lossUsed, s.notionalUsed);
        if (!s.budgetRead) {
            (a, b) = WindowBudgetLib.current(_usage, l.lossBudget, l.notionalBudget, l.window);
            s.budgetRead = true;
        }
        a += lost;
        b += moved;
        if (a > l.lossBudget) revert LossBudgetExceeded(a, l.lossBudget);
        if (b > l.notionalBudget) revert NotionalBudgetExceeded(b, l.notionalBudget);
        (s.lossUsed, s.notionalUsed) = (a, b);
    }

    /// @dev Writes the window budgets' usage a call's legs booked (`_useBudget`), once, after
    /// its last leg (AssetController._afterMoves).
    function _storeUsage(Snap memory s) internal {
        // cannot truncate: each is at most its uint96 budget (_useBudget)
        if (s.budgetRead) _usage = WindowBudgetLib.Usage(uint96(s.lossUsed), uint96(s.notionalUsed), uint64(block.timestamp));
    }

    /* INTERNAL: CONFIGURATION */

    /// @dev Risk-increasing changes only from the timelock (DEFAULT_ADMIN_ROLE); risk-reducing
    /// ones also at once from the admin or the guardian.
    function _authorize(bool increasesRisk, string memory what) internal view {
        _notDuringMove();
        if (hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) return;
        if (increasesRisk) revert RiskIncreaseRequiresTimelock(msg.sender, what);
        if (!hasRole(GUARDIAN_ROLE, msg.sender)) _checkRole(ADMIN_ROLE);
    }

    /// @dev No configuration change while a move, mark or exit of the controller is under way
    /// (its reentrancy guard entered: a venue's, adapter's or token's callback, whoever holds
    /// the role), so that a value a move reads once from the configuration (the asset list,
    /// an asset's registration, the risk parameters and limits) is what reading it again would
    /// give: the moves' cached reads rest on it. Every configuration writer of the admin module
    /// runs it (`_authorize`, AssetControllerAdmin._checkRole, and the two that skip both for
    /// the timelock).
    function _notDuringMove() internal view {
        if (_reentrancyGuardEntered()) revert ReentrancyGuardReentrantCall();
    }

    function _setTiers(TierConfig[3] memory tiers_) internal {
        uint256 sum;
        for (uint8 t; t < 3; ++t) {
            TierConfig memory c = tiers_[t];
            if (c.minBps > c.targetBps || c.targetBps > c.maxBps || c.maxBps > BpsLib.BPS) {
                revert InvalidTierBand(t, c.minBps, c.targetBps, c.maxBps);
            }
            sum += c.targetBps;
        }
        if (sum != BpsLib.BPS) revert TierTargetsSum(sum);
        uint256 bands;
        for (uint8 t; t < 3; ++t) {
            _targets[t] = tiers_[t].targetBps;
            bands |= (uint256(tiers_[t].minBps) | (uint256(tiers_[t].maxBps) << 16)) << (32 * t);
        }
        _hot.bands = uint96(bands); // cannot truncate: three 32-bit pairs
        _hot.cashInBand = false; // the vault's band was solved for the old bands
        emit TiersSet(tiers_);
    }

    function _setRisk(RiskParams memory p) internal {
        if (p.maxSlippageBps > MAX_SLIPPAGE_LIMIT) revert InvalidParameter("maxSlippageBps", p.maxSlippageBps);
        if (p.maxValueLossBps > MAX_SLIPPAGE_LIMIT) revert InvalidParameter("maxValueLossBps", p.maxValueLossBps);
        if (p.maxTop3Bps > BpsLib.BPS) revert InvalidParameter("maxTop3Bps", p.maxTop3Bps);
        if (p.navMaxAge > MAX_NAV_AGE_LIMIT) revert InvalidParameter("navMaxAge", p.navMaxAge);
        _risk = Risk(p.maxSlippageBps, p.maxValueLossBps, p.maxTop3Bps, p.minMoveValue);
        _hot.navMaxAge = p.navMaxAge;
        emit RiskParamsSet(p);
    }

    /// @dev minAnswer is stored in 96 bits (Asset): a larger lower bound is refused.
    function _checkFeed(uint32 heartbeat, uint128 minAnswer, uint128 maxAnswer) internal pure {
        if (heartbeat == 0) revert InvalidParameter("heartbeat", 0);
        if (minAnswer == 0 || minAnswer >= maxAnswer || minAnswer > type(uint96).max) {
            revert InvalidParameter("minAnswer", minAnswer);
        }
    }

    /// @dev Asset a's feed as OracleLib reads it: its three slots loaded once each (every
    /// valuation and move builds it; field by field the compiler loads the first slot three
    /// times). The offsets are Asset's declared layout; every price read goes through here.
    function _feedOf(Asset storage a) internal view returns (OracleLib.Feed memory f) {
        assembly ("memory-safe") {
            let s0 := sload(a.slot) // adapter, heartbeat (bit 160), feedDecimals (192), tokenDecimals (200), ...
            let s1 := sload(add(a.slot, 1)) // feed, minAnswer (bit 160)
            mstore(f, and(s1, 0xffffffffffffffffffffffffffffffffffffffff))
            mstore(add(f, 0x20), and(shr(160, s0), 0xffffffff))
            mstore(add(f, 0x40), and(shr(192, s0), 0xff))
            mstore(add(f, 0x60), and(shr(200, s0), 0xff))
            mstore(add(f, 0x80), shr(160, s1))
            mstore(add(f, 0xa0), shr(128, sload(add(a.slot, 2)))) // cap, maxAnswer (bit 128)
        }
    }

    /// @dev Writes feed `f` (checked) as asset a's.
    function _storeFeed(Asset storage a, OracleLib.Feed memory f) internal {
        _checkFeed(f.heartbeat, f.minAnswer, f.maxAnswer);
        a.feed = f.feed;
        a.heartbeat = f.heartbeat;
        a.feedDecimals = f.feedDecimals;
        a.minAnswer = uint96(f.minAnswer); // cannot truncate: checked above
        a.maxAnswer = f.maxAnswer;
        a.roundsBumped = false; // a new feed is vouched for by nobody yet
        _markLines.at = 0; // the mark's lines name the old feed: priced live until the next mark
    }

    function _writeFeed(Asset storage a, address token, address feed, uint32 heartbeat, uint128 minAnswer, uint128 maxAnswer)
        internal
    {
        _storeFeed(
            a,
            OracleLib.Feed(
                AggregatorV3Interface(feed),
                heartbeat,
                AggregatorV3Interface(feed).decimals(),
                a.tokenDecimals,
                minAnswer,
                maxAnswer
            )
        );
        emit FeedSet(token, feed, heartbeat, minAnswer, maxAnswer);
    }
}
