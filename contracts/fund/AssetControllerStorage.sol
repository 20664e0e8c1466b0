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
/// @notice The AssetController's storage, constants and the helpers its configuration shares,
/// inherited by the controller and by its admin module (AssetControllerAdmin), which runs by
/// delegatecall on the controller's storage: one layout, declared once.
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

    /* STORAGE */

    struct Asset {
        uint8 tier;
        bool instant;
        uint16 maxConcentrationBps;
        IAssetAdapter adapter;
        // vouched for (timelock) as a feed that bumps its round on every answer: see setRoundsBumped
        bool roundsBumped;
        uint128 cap;
        // the units the fund's own moves left here, as of the last mark or move: users'
        // pricing counts at most these, so a third party's transfer counts from the next mark
        uint128 markUnits;
        OracleLib.Feed feed;
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
        // rebalance() by a REBALANCER_ROLE holder (a run an outsider times): each pool leg also
        // moves its pool at most one fee tier
        bool oneFee;
        bool cut; // a move was cut at the internal bound
        // this contract's own cash balance plus 1, once a purchase has read it (0: not yet):
        // every move leaves it where it found it (what comes back goes on to the vault)
        uint256 cashHeld;
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
    }

    /// @dev What rebalance(false) reads when it has nothing to do, in one slot (the mark is the
    /// other): the pause flag, whether a sequencer feed is set, navMaxAge, every tier's band and
    /// the vault's queue reserve. Each field has one writer: bands `_setTiers`, navMaxAge
    /// `_setRisk`, paused `_pause`/`_unpause`, sequencerOn the admin's setSequencerFeed,
    /// queueReserve the vault (syncQueueReserve).
    struct Hot {
        uint96 bands; // tier t's minBps at bit 32t, its maxBps at bit 32t + 16
        uint32 navMaxAge; // seconds a stored mark may serve users' pricing and the no-op
        bool paused;
        bool sequencerOn; // _sequencer != 0
        uint112 queueReserve; // the vault's pending + claimable; _RESERVE_UNKNOWN: ask the vault
    }

    /// @dev RiskParams less navMaxAge, which lives in `_hot`.
    struct Risk {
        uint16 maxSlippageBps;
        uint16 maxValueLossBps;
        uint16 maxTop3Bps;
        uint128 minMoveValue;
    }

    /// @dev The queue reserve before the vault has reported one, or above uint112.
    uint112 internal constant _RESERVE_UNKNOWN = type(uint112).max;

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
    /// the mark counted for each held position is in `_markedValue`, so a position whose feed
    /// answers anew is read live in its place and the others still come from the mark.
    uint256 internal constant _LIVE_ONLY = 1 << 255;
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
    // per held position, what the mark counted; two to a slot (a move's mark writes half the
    // slots): each value is at most its tier's total, which the mark stores as a uint112
    uint128[MAX_ASSETS] internal _markedValue;

    constructor(ITieredVault vault_) {
        if (address(vault_) == address(0)) revert ZeroAddress("vault");
        _vault = vault_;
        _cash = IERC20(vault_.asset());
        _baseDecimals = IERC20Metadata(vault_.asset()).decimals();
        _hot.queueReserve = _RESERVE_UNKNOWN;
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

    /* INTERNAL: CONFIGURATION */

    /// @dev Risk-increasing changes only from the timelock (DEFAULT_ADMIN_ROLE); risk-reducing
    /// ones also at once from the admin or the guardian.
    function _authorize(bool increasesRisk, string memory what) internal view {
        if (hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) return;
        if (increasesRisk) revert RiskIncreaseRequiresTimelock(msg.sender, what);
        if (!hasRole(GUARDIAN_ROLE, msg.sender)) _checkRole(ADMIN_ROLE);
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

    function _checkFeed(uint32 heartbeat, uint128 minAnswer, uint128 maxAnswer) internal pure {
        if (heartbeat == 0) revert InvalidParameter("heartbeat", 0);
        if (minAnswer == 0 || minAnswer >= maxAnswer) revert InvalidParameter("minAnswer", minAnswer);
    }

    function _writeFeed(Asset storage a, address token, address feed, uint32 heartbeat, uint128 minAnswer, uint128 maxAnswer)
        internal
    {
        _checkFeed(heartbeat, minAnswer, maxAnswer);
        a.feed.feed = AggregatorV3Interface(feed);
        a.feed.heartbeat = heartbeat;
        a.feed.feedDecimals = AggregatorV3Interface(feed).decimals();
        a.feed.minAnswer = minAnswer;
        a.feed.maxAnswer = maxAnswer;
        a.roundsBumped = false; // a new feed is vouched for by nobody yet
        _markLines.at = 0; // the mark's lines name the old feed: priced live until the next mark
        emit FeedSet(token, feed, heartbeat, minAnswer, maxAnswer);
    }
}
