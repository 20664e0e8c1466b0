// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {IAssetController} from "../interfaces/IAssetController.sol";
import {IRebalanceTarget} from "../interfaces/IRebalanceTarget.sol";
import {IAssetAdapter} from "../interfaces/IAssetAdapter.sol";
import {ITieredVault} from "../interfaces/ITieredVault.sol";
import {OracleLib} from "../libraries/OracleLib.sol";
import {BpsLib} from "../libraries/BpsLib.sol";
import {ValuationLib} from "../libraries/ValuationLib.sol";

/// @title AssetController
/// @notice See IAssetController.
contract AssetController is IAssetController, AccessControl, Pausable, ReentrancyGuard {
    using SafeERC20 for IERC20;
    using OracleLib for OracleLib.Feed;

    /* ROLES AND CONSTANTS */

    bytes32 public constant ADMIN_ROLE = keccak256("ADMIN_ROLE");
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    bytes32 public constant KEEPER_ROLE = keccak256("KEEPER_ROLE");
    bytes32 public constant REBALANCER_ROLE = keccak256("REBALANCER_ROLE");

    uint256 public constant MAX_ASSETS = 16;
    uint16 public constant MAX_SLIPPAGE_LIMIT = 2_000;
    uint32 public constant MAX_NAV_AGE_LIMIT = 1 days;
    /// @dev rebalance() and allocateToLayer() leave 1% of each concentration limit unused, so
    /// the swap's own slippage cannot push an asset over its limit and revert the whole move.
    uint256 private constant _HEADROOM_BPS = 9_900;
    uint256 private constant _FULFIL_BATCH = 50;

    /* STORAGE */

    struct Asset {
        uint8 tier;
        bool instant;
        uint16 maxConcentrationBps;
        IAssetAdapter adapter;
        uint128 cap;
        OracleLib.Feed feed;
    }

    /// @dev One valuation pass over every asset.
    struct Snap {
        uint256 gross;
        uint256[3] tierValues; // 0 = the vault's cash not earmarked for redemptions
        uint256[] values; // per asset, in list order, base units
        bool down; // a held asset's feed is down: it is valued at zero (pending cash aside)
    }

    ITieredVault private immutable _vault;
    IERC20 private immutable _cash;
    uint8 private immutable _baseDecimals;

    TierConfig[3] private _tiers;
    mapping(address token => Asset) private _assets;
    address[] private _list;
    address[3] private _default;
    RiskParams private _risk;
    uint192 private _markValue;
    uint64 private _markedAt;
    uint128 private _dustValue;
    mapping(address token => OracleLib.Feed) private _fallbackFeeds;

    constructor(ITieredVault vault_, address admin, TierConfig[3] memory tiers_, RiskParams memory risk_) {
        if (address(vault_) == address(0)) revert ZeroAddress("vault");
        if (admin == address(0)) revert ZeroAddress("admin");
        _vault = vault_;
        _cash = IERC20(vault_.asset());
        _baseDecimals = IERC20Metadata(vault_.asset()).decimals();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ADMIN_ROLE, admin);
        _setTiers(tiers_);
        _setRisk(risk_);
    }

    /* MODIFIERS */

    modifier onlyKeeper() {
        _checkRole(KEEPER_ROLE);
        _;
    }

    /* VIEWS */

    /// @inheritdoc IAssetController
    function vault() external view returns (address) {
        return address(_vault);
    }

    /// @inheritdoc IAssetController
    function cash() external view returns (address) {
        return address(_cash);
    }

    /// @inheritdoc IAssetController
    function pricingValues() external view returns (uint256 low, uint256 high, bool feedDown) {
        Snap memory s = _snapshot();
        uint256 live = s.tierValues[1] + s.tierValues[2];
        (low, high, feedDown) = (live, live, s.down);
        // cannot overflow: a uint64 timestamp plus a uint32 age (a never-set mark, at 0, is
        // older than any navMaxAge since block timestamps are far above 1 day)
        unchecked {
            if (uint256(_markedAt) + _risk.navMaxAge >= block.timestamp) {
                uint256 m = _markValue;
                if (m < low) low = m;
                else high = m;
            }
        }
    }

    /// @inheritdoc IAssetController
    function dustValue() external view returns (uint256) {
        return _dustValue;
    }

    /// @inheritdoc IAssetController
    function fallbackFeed(address token) external view returns (address) {
        return address(_fallbackFeeds[token].feed);
    }

    /// @inheritdoc IAssetController
    function markedAt() external view returns (uint64) {
        return _markedAt;
    }

    /// @inheritdoc IAssetController
    function tier(uint8 t) external view returns (TierConfig memory) {
        if (t > 2) revert InvalidTier(t);
        return _tiers[t];
    }

    /// @inheritdoc IAssetController
    function assetParams(address token) external view returns (AssetParams memory p) {
        Asset storage a = _requireAsset(token);
        p = AssetParams({
            token: token,
            tier: a.tier,
            adapter: address(a.adapter),
            feed: address(a.feed.feed),
            heartbeat: a.feed.heartbeat,
            minAnswer: a.feed.minAnswer,
            maxAnswer: a.feed.maxAnswer,
            cap: a.cap,
            maxConcentrationBps: a.maxConcentrationBps
        });
    }

    /// @inheritdoc IAssetController
    function assetList() external view returns (address[] memory) {
        return _list;
    }

    /// @inheritdoc IAssetController
    function defaultAsset(uint8 t) external view returns (address) {
        if (t > 2) revert InvalidTier(t);
        return _default[t];
    }

    /// @inheritdoc IAssetController
    function riskParams() external view returns (RiskParams memory) {
        return _risk;
    }

    /// @inheritdoc IAssetController
    function valueOf(address token, uint256 amount) external view returns (uint256) {
        Asset storage a = _requireAsset(token);
        OracleLib.Feed memory f = a.feed;
        return f.toBase(amount, f.price(), _baseDecimals);
    }

    /* MOVES */

    /// @inheritdoc IAssetController
    function allocateToLayer(uint8 t, uint256 amount)
        external
        onlyKeeper
        whenNotPaused
        nonReentrant
        returns (uint256 invested)
    {
        if (t == 0 || t > 2) revert InvalidTier(t);
        if (amount == 0) revert ZeroAmount();
        invested = _deployToTier(t, amount);
        if (amount - invested > _risk.minMoveValue) revert TierCapacityExhausted(t, amount - invested);
        emit Allocated(t, invested);
    }

    /// @inheritdoc IAssetController
    function purchaseAsset(address token, uint256 cashAmount, uint256 minOut)
        external
        onlyKeeper
        whenNotPaused
        nonReentrant
        returns (uint256)
    {
        if (cashAmount == 0) revert ZeroAmount();
        return _purchase(token, cashAmount, minOut);
    }

    /// @inheritdoc IAssetController
    function redeemAsset(address token, uint256 tokenAmount, uint256 minOut)
        external
        onlyKeeper
        whenNotPaused
        nonReentrant
        returns (uint256 cashOut)
    {
        if (tokenAmount == 0) revert ZeroAmount();
        cashOut = _redeem(token, tokenAmount, minOut);
        _storeMark(_snapshot());
    }

    /// @inheritdoc IAssetController
    function rebalanceBuffer() external onlyKeeper whenNotPaused nonReentrant {
        Snap memory s = _snapshot();
        uint256 before = s.tierValues[0];
        uint256 target = BpsLib.share(s.gross, _tiers[0].targetBps);
        if (before > target) {
            uint256 excess = before - target;
            uint256 d1 = _deficit(s, 1);
            uint256 d2 = _deficit(s, 2);
            if (d1 + d2 == 0) (d1, d2) = (_tiers[1].targetBps, _tiers[2].targetBps);
            uint256 x1 = Math.mulDiv(excess, d1, d1 + d2);
            if (x1 != 0) _deployToTier(1, x1);
            if (excess - x1 != 0) _deployToTier(2, excess - x1);
        } else if (before < target) {
            _waterfall(target - before, 2);
        }
        s = _snapshot();
        _storeMark(s);
        emit BufferRebalanced(before, s.tierValues[0]);
    }

    /// @inheritdoc IAssetController
    function executeWaterfallLiquidation(uint256 amountNeeded, uint8 maxTier)
        external
        onlyKeeper
        whenNotPaused
        nonReentrant
        returns (uint256 raised)
    {
        if (maxTier == 0 || maxTier > 2) revert InvalidTier(maxTier);
        if (amountNeeded == 0) revert ZeroAmount();
        raised = _waterfall(amountNeeded, maxTier);
        _vault.fulfilRedemptions(_FULFIL_BATCH);
        _storeMark(_snapshot());
        emit WaterfallLiquidated(amountNeeded, maxTier, raised);
    }

    /// @inheritdoc IRebalanceTarget
    function rebalance(bool force) external whenNotPaused nonReentrant returns (bool moved) {
        if (!hasRole(REBALANCER_ROLE, msg.sender) && !hasRole(KEEPER_ROLE, msg.sender)) {
            revert NotRebalancer(msg.sender);
        }
        Snap memory s = _snapshot();
        if (s.gross == 0 || (!force && _inBands(s))) {
            emit Rebalanced(msg.sender, force, false);
            return false;
        }
        uint256 minMove = _risk.minMoveValue;
        // Sell what the invested tiers hold above target; the cash lands in L1.
        for (uint8 t = 1; t < 3; ++t) {
            uint256 tv = BpsLib.share(s.gross, _tiers[t].targetBps);
            if (s.tierValues[t] > tv + minMove) {
                moved = _sellFromTier(t, s.tierValues[t] - tv) != 0 || moved;
            }
        }
        // Deploy the cash above L1's target to the tiers below theirs.
        s = _snapshot();
        uint256 target0 = BpsLib.share(s.gross, _tiers[0].targetBps);
        uint256 surplus = s.tierValues[0] > target0 ? s.tierValues[0] - target0 : 0;
        for (uint8 t = 1; t < 3 && surplus > minMove; ++t) {
            uint256 d = _deficit(s, t);
            uint256 x = d < surplus ? d : surplus;
            if (x > minMove) {
                uint256 done = _deployToTier(t, x);
                surplus -= done;
                moved = done != 0 || moved;
            }
        }
        if (_vault.pendingRedemptions() != 0) _vault.fulfilRedemptions(_FULFIL_BATCH);
        _storeMark(_snapshot());
        emit Rebalanced(msg.sender, force, moved);
    }

    /// @inheritdoc IAssetController
    function settle(address token) external nonReentrant returns (uint256 tokensIn, uint256 cashIn) {
        Asset storage a = _requireAsset(token);
        (tokensIn, cashIn) = a.adapter.settle(token);
        if (cashIn != 0) _cash.safeTransfer(address(_vault), cashIn);
        _storeMark(_snapshot());
        emit Settled(token, tokensIn, cashIn);
    }

    /// @inheritdoc IAssetController
    function mark() external nonReentrant returns (uint256) {
        Snap memory s = _snapshot();
        _storeMark(s);
        return s.tierValues[1] + s.tierValues[2];
    }

    /* CONFIGURATION */

    /// @inheritdoc IAssetController
    function setTiers(TierConfig[3] calldata tiers_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setTiers(tiers_);
    }

    /// @inheritdoc IAssetController
    function addAsset(AssetParams calldata p) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (p.token == address(0)) revert ZeroAddress("token");
        if (p.adapter == address(0)) revert ZeroAddress("adapter");
        if (p.feed == address(0)) revert ZeroAddress("feed");
        if (p.tier == 0 || p.tier > 2) revert InvalidTier(p.tier);
        if (address(_assets[p.token].adapter) != address(0)) revert AssetAlreadyRegistered(p.token);
        if (_list.length >= MAX_ASSETS) revert TooManyAssets(MAX_ASSETS);
        if (p.maxConcentrationBps > BpsLib.BPS) revert InvalidParameter("maxConcentrationBps", p.maxConcentrationBps);
        Asset storage a = _assets[p.token];
        a.tier = p.tier;
        a.instant = IAssetAdapter(p.adapter).isInstant();
        a.maxConcentrationBps = p.maxConcentrationBps;
        a.adapter = IAssetAdapter(p.adapter);
        a.cap = p.cap;
        a.feed.tokenDecimals = IERC20Metadata(p.token).decimals();
        _writeFeed(a, p.token, p.feed, p.heartbeat, p.minAnswer, p.maxAnswer);
        _list.push(p.token);
        if (_default[p.tier] == address(0)) {
            _default[p.tier] = p.token;
            emit DefaultAssetSet(p.tier, p.token);
        }
        emit AssetAdded(p.token, p.tier, p.adapter, p.feed);
        emit AssetLimitsSet(p.token, p.cap, p.maxConcentrationBps);
    }

    /// @inheritdoc IAssetController
    function removeAsset(address token) external {
        _authorize(false, "removeAsset");
        Asset storage a = _requireAsset(token);
        (uint256 pc, uint256 pt) = a.adapter.pending(token, address(this));
        // Valued at the feed's upper sanity bound, so it needs no live price: a position that
        // is dust even at the highest sane price is written off (left where it is, unvalued).
        OracleLib.Feed memory f = a.feed;
        uint256 worst = pc + f.toBase(IERC20(token).balanceOf(address(this)) + pt, f.maxAnswer, _baseDecimals);
        if (worst > _dustValue) revert AssetNotEmpty(token, worst);
        uint8 t = a.tier;
        uint256 n = _list.length;
        for (uint256 i; i < n; ++i) {
            if (_list[i] == token) {
                _list[i] = _list[n - 1];
                _list.pop();
                break;
            }
        }
        delete _assets[token];
        if (_default[t] == token) {
            _default[t] = address(0);
            for (uint256 i; i < _list.length; ++i) {
                if (_assets[_list[i]].tier == t) {
                    _default[t] = _list[i];
                    break;
                }
            }
            emit DefaultAssetSet(t, _default[t]);
        }
        emit AssetRemoved(token);
    }

    /// @inheritdoc IAssetController
    function setDefaultAsset(uint8 t, address token) external {
        _authorize(false, "setDefaultAsset");
        if (t == 0 || t > 2) revert InvalidTier(t);
        if (_requireAsset(token).tier != t) revert AssetNotInTier(token, t);
        _default[t] = token;
        emit DefaultAssetSet(t, token);
    }

    /// @inheritdoc IAssetController
    function setAssetLimits(address token, uint128 cap, uint16 maxConcentrationBps) external {
        Asset storage a = _requireAsset(token);
        if (maxConcentrationBps > BpsLib.BPS) revert InvalidParameter("maxConcentrationBps", maxConcentrationBps);
        _authorize(cap > a.cap || maxConcentrationBps > a.maxConcentrationBps, "setAssetLimits");
        a.cap = cap;
        a.maxConcentrationBps = maxConcentrationBps;
        emit AssetLimitsSet(token, cap, maxConcentrationBps);
    }

    /// @inheritdoc IAssetController
    function setFeed(address token, address feed, uint32 heartbeat, uint128 minAnswer, uint128 maxAnswer)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        if (feed == address(0)) revert ZeroAddress("feed");
        _writeFeed(_requireAsset(token), token, feed, heartbeat, minAnswer, maxAnswer);
    }

    /// @inheritdoc IAssetController
    function setFallbackFeed(address token, address feed, uint32 heartbeat, uint128 minAnswer, uint128 maxAnswer)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        Asset storage a = _requireAsset(token);
        OracleLib.Feed storage fb = _fallbackFeeds[token];
        if (feed == address(0)) {
            delete _fallbackFeeds[token];
        } else {
            _checkFeed(heartbeat, minAnswer, maxAnswer);
            fb.feed = AggregatorV3Interface(feed);
            fb.heartbeat = heartbeat;
            fb.feedDecimals = AggregatorV3Interface(feed).decimals();
            fb.tokenDecimals = a.feed.tokenDecimals;
            fb.minAnswer = minAnswer;
            fb.maxAnswer = maxAnswer;
        }
        emit FallbackFeedSet(token, feed, heartbeat, minAnswer, maxAnswer);
    }

    /// @inheritdoc IAssetController
    function useFallbackFeed(address token) external {
        _authorize(false, "useFallbackFeed");
        Asset storage a = _requireAsset(token);
        OracleLib.Feed memory fb = _fallbackFeeds[token];
        if (address(fb.feed) == address(0)) revert NoFallbackFeed(token);
        a.feed = fb;
        delete _fallbackFeeds[token];
        emit FeedSet(token, address(fb.feed), fb.heartbeat, fb.minAnswer, fb.maxAnswer);
    }

    /// @inheritdoc IAssetController
    function setDustValue(uint128 value) external {
        _authorize(value > _dustValue, "setDustValue");
        _dustValue = value;
        emit DustValueSet(value);
    }

    /// @inheritdoc IAssetController
    function setRiskParams(RiskParams calldata p) external {
        RiskParams memory o = _risk;
        bool increases = p.maxSlippageBps > o.maxSlippageBps || p.maxValueLossBps > o.maxValueLossBps
            || p.maxTop3Bps > o.maxTop3Bps || p.navMaxAge > o.navMaxAge;
        _authorize(increases, "setRiskParams");
        _setRisk(p);
    }

    /// @inheritdoc IAssetController
    function pause() external {
        _authorize(false, "pause");
        _pause();
    }

    /// @inheritdoc IAssetController
    function unpause() external {
        if (!hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) _checkRole(ADMIN_ROLE);
        _unpause();
    }

    /* INTERNAL: MOVES */

    function _purchase(address token, uint256 cashAmount, uint256 minOut) private returns (uint256 out) {
        Asset storage a = _requireAsset(token);
        OracleLib.Feed memory f = a.feed;
        uint256 p = f.price();
        uint256 before = IERC20(token).balanceOf(address(this));
        _vault.pullCash(address(a.adapter), cashAmount);
        a.adapter.invest(token, cashAmount);
        out = IERC20(token).balanceOf(address(this)) - before;
        if (a.instant) {
            uint256 oracleMin = BpsLib.less(f.toToken(cashAmount, p, _baseDecimals, Math.Rounding.Floor), _risk.maxSlippageBps);
            uint256 min = minOut > oracleMin ? minOut : oracleMin;
            if (out < min) revert SlippageExceeded(min, out);
            _checkLoss(cashAmount, f.toBase(out, p, _baseDecimals));
        }
        _checkAfterBuy(token, a);
        emit Purchased(token, cashAmount, out, !a.instant);
    }

    function _redeem(address token, uint256 tokenAmount, uint256 minOut) private returns (uint256 out) {
        Asset storage a = _requireAsset(token);
        OracleLib.Feed memory f = a.feed;
        uint256 p = f.price();
        if (a.instant) {
            uint256 redeemable = a.adapter.redeemableNow(token, address(this), IERC20(token).balanceOf(address(this)));
            if (tokenAmount > redeemable) revert NotRedeemableNow(token, tokenAmount, redeemable);
        }
        uint256 before = _cash.balanceOf(address(this));
        IERC20(token).safeTransfer(address(a.adapter), tokenAmount);
        a.adapter.divest(token, tokenAmount);
        out = _cash.balanceOf(address(this)) - before;
        if (a.instant) {
            uint256 oracleOut = f.toBase(tokenAmount, p, _baseDecimals);
            uint256 oracleMin = BpsLib.less(oracleOut, _risk.maxSlippageBps);
            uint256 min = minOut > oracleMin ? minOut : oracleMin;
            if (out < min) revert SlippageExceeded(min, out);
            _checkLoss(oracleOut, out);
        }
        if (out != 0) _cash.safeTransfer(address(_vault), out);
        emit Redeemed(token, tokenAmount, out, !a.instant);
    }

    /// @dev Invests up to `amount` in tier `t`, aiming at equal weights inside the tier: each
    /// asset is first filled up to an equal share of the tier's new value, then what is left goes
    /// to any asset with headroom under its cap and concentration limit, default asset first
    /// (leftovers below minMoveValue stay in L1). Returns what was invested.
    function _deployToTier(uint8 t, uint256 amount) private returns (uint256 invested) {
        address first = _default[t];
        if (first == address(0)) revert NoAssetInTier(t);
        uint256 n = _list.length;
        address[] memory members = new address[](n);
        uint256 k;
        members[k++] = first;
        for (uint256 i; i < n; ++i) {
            if (_list[i] != first && _assets[_list[i]].tier == t) members[k++] = _list[i];
        }
        Snap memory s = _snapshot();
        uint256 equalShare = (s.tierValues[t] + amount) / k;
        for (uint256 pass; pass < 2 && invested < amount; ++pass) {
            for (uint256 j; j < k && invested < amount; ++j) {
                (uint256 room, uint256 v) = _room(members[j]);
                uint256 x = amount - invested;
                if (pass == 0) {
                    uint256 want = equalShare > v ? equalShare - v : 0;
                    if (want < x) x = want;
                }
                if (room < x) x = room;
                // dust (below the minimum move) stays in L1: a swap of a few base units only
                // buys rounding error
                if (x == 0 || (x < _risk.minMoveValue && pass == 1)) continue;
                _purchase(members[j], x, 0);
                invested += x;
            }
        }
    }

    /// @dev Sells about `value` of tier `t`'s instant assets, largest position first.
    function _sellFromTier(uint8 t, uint256 value) private returns (uint256 raised) {
        uint256 n = _list.length;
        bool[] memory done = new bool[](n);
        while (raised < value) {
            (uint256 best, uint256 bestValue) = (type(uint256).max, 0);
            for (uint256 i; i < n; ++i) {
                Asset storage a = _assets[_list[i]];
                if (done[i] || a.tier != t) continue;
                if (!a.instant) {
                    done[i] = true;
                    emit WaterfallSkipped(_list[i], t, 1);
                    continue;
                }
                uint256 v = IERC20(_list[i]).balanceOf(address(this));
                if (v > bestValue) (best, bestValue) = (i, v == 0 ? 0 : v);
            }
            if (best == type(uint256).max) break;
            done[best] = true;
            raised += _sellValue(_list[best], t, value - raised);
        }
    }

    /// @dev Redeems about `value` of an instant asset (capped by what is redeemable now).
    function _sellValue(address token, uint8 t, uint256 value) private returns (uint256) {
        Asset storage a = _assets[token];
        uint256 redeemable = a.adapter.redeemableNow(token, address(this), IERC20(token).balanceOf(address(this)));
        if (redeemable == 0) {
            emit WaterfallSkipped(token, t, 2);
            return 0;
        }
        OracleLib.Feed memory f = a.feed;
        uint256 tokens = f.toToken(value, f.price(), _baseDecimals, Math.Rounding.Ceil);
        if (tokens > redeemable) tokens = redeemable;
        return _redeem(token, tokens, 0);
    }

    function _waterfall(uint256 amountNeeded, uint8 maxTier) private returns (uint256 raised) {
        for (uint8 t = 1; t <= maxTier && raised < amountNeeded; ++t) {
            raised += _sellFromTier(t, amountNeeded - raised);
        }
    }

    /* INTERNAL: GUARDS AND VALUATION */

    function _checkLoss(uint256 valueIn, uint256 valueOut) private view {
        if (valueOut >= valueIn) return;
        uint256 lossBps = Math.mulDiv(valueIn - valueOut, BpsLib.BPS, valueIn, Math.Rounding.Ceil);
        if (lossBps > _risk.maxValueLossBps) revert ValueLossExceeded(lossBps, _risk.maxValueLossBps);
    }

    function _checkAfterBuy(address token, Asset storage a) private {
        Snap memory s = _snapshot();
        uint256 n = _list.length;
        uint256 v;
        for (uint256 i; i < n; ++i) {
            if (_list[i] == token) v = s.values[i];
        }
        if (v > a.cap) revert AssetCapExceeded(token, v, a.cap);
        uint256 c = BpsLib.ratio(v, s.gross);
        if (c > a.maxConcentrationBps) revert ConcentrationExceeded(token, c, a.maxConcentrationBps);
        uint256 top3 = BpsLib.ratio(ValuationLib.top3(s.values), s.gross);
        if (top3 > _risk.maxTop3Bps) revert Top3ConcentrationExceeded(top3, _risk.maxTop3Bps);
        uint256 r = BpsLib.ratio(s.tierValues[a.tier], s.gross);
        if (r > _tiers[a.tier].maxBps) revert TierAboveMax(a.tier, r, _tiers[a.tier].maxBps);
        _storeMark(s);
    }

    /// @dev Cash `token` can still absorb under its cap and concentration limit (with headroom),
    /// and its current value.
    function _room(address token) private view returns (uint256 room, uint256 v) {
        Asset storage a = _assets[token];
        Snap memory s = _snapshot();
        for (uint256 i; i < _list.length; ++i) {
            if (_list[i] == token) v = s.values[i];
        }
        (bool priced,) = a.feed.tryPrice();
        if (!priced) return (0, v); // never buy what cannot be priced: a down feed is skipped
        uint256 limit = Math.mulDiv(s.gross, uint256(a.maxConcentrationBps) * _HEADROOM_BPS, BpsLib.BPS * BpsLib.BPS);
        uint256 capLimit = Math.mulDiv(a.cap, _HEADROOM_BPS, BpsLib.BPS);
        if (capLimit < limit) limit = capLimit;
        room = limit > v ? limit - v : 0;
    }

    /// @dev Every position at oracle prices (ValuationLib.positionValue: never reverts on a
    /// feed, an empty position is not priced, a down feed's tokens count as zero).
    function _snapshot() private view returns (Snap memory s) {
        uint256 cashFree = _vault.freeCash();
        uint256 owed = _vault.pendingRedemptions();
        s.tierValues[0] = cashFree > owed ? cashFree - owed : 0;
        uint256 n = _list.length;
        s.values = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            address token = _list[i];
            Asset storage a = _assets[token];
            uint256 units = IERC20(token).balanceOf(address(this));
            uint256 v;
            if (!a.instant) {
                uint256 pendingTokens;
                (v, pendingTokens) = a.adapter.pending(token, address(this));
                units += pendingTokens;
            }
            if (units != 0) {
                // only a held position loads and reads its feed
                bool down;
                (v,, down) = ValuationLib.positionValue(a.feed, units, v, _baseDecimals);
                if (down) s.down = true;
            }
            s.values[i] = v;
            s.tierValues[a.tier] += v;
        }
        s.gross = s.tierValues[0] + s.tierValues[1] + s.tierValues[2];
    }

    function _deficit(Snap memory s, uint8 t) private view returns (uint256) {
        uint256 tv = BpsLib.share(s.gross, _tiers[t].targetBps);
        return tv > s.tierValues[t] ? tv - s.tierValues[t] : 0;
    }

    function _inBands(Snap memory s) private view returns (bool) {
        for (uint8 t; t < 3; ++t) {
            uint256 r = BpsLib.ratio(s.tierValues[t], s.gross);
            if (r < _tiers[t].minBps || r > _tiers[t].maxBps) return false;
        }
        return true;
    }

    function _storeMark(Snap memory s) private {
        uint256 invested = s.tierValues[1] + s.tierValues[2];
        _markValue = uint192(invested);
        _markedAt = uint64(block.timestamp);
        emit Marked(invested, uint64(block.timestamp));
    }

    function _requireAsset(address token) private view returns (Asset storage a) {
        a = _assets[token];
        if (address(a.adapter) == address(0)) revert UnknownAsset(token);
    }

    /* INTERNAL: CONFIGURATION */

    /// @dev Risk-increasing changes only from the timelock (DEFAULT_ADMIN_ROLE); risk-reducing
    /// ones also at once from the admin or the guardian.
    function _authorize(bool increasesRisk, string memory what) private view {
        if (hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) return;
        if (increasesRisk) revert RiskIncreaseRequiresTimelock(msg.sender, what);
        if (!hasRole(GUARDIAN_ROLE, msg.sender)) _checkRole(ADMIN_ROLE);
    }

    function _setTiers(TierConfig[3] memory tiers_) private {
        uint256 sum;
        for (uint8 t; t < 3; ++t) {
            TierConfig memory c = tiers_[t];
            if (c.minBps > c.targetBps || c.targetBps > c.maxBps || c.maxBps > BpsLib.BPS) {
                revert InvalidTierBand(t, c.minBps, c.targetBps, c.maxBps);
            }
            sum += c.targetBps;
        }
        if (sum != BpsLib.BPS) revert TierTargetsSum(sum);
        for (uint8 t; t < 3; ++t) {
            _tiers[t] = tiers_[t];
        }
        emit TiersSet(tiers_);
    }

    function _setRisk(RiskParams memory p) private {
        if (p.maxSlippageBps > MAX_SLIPPAGE_LIMIT) revert InvalidParameter("maxSlippageBps", p.maxSlippageBps);
        if (p.maxValueLossBps > MAX_SLIPPAGE_LIMIT) revert InvalidParameter("maxValueLossBps", p.maxValueLossBps);
        if (p.maxTop3Bps > BpsLib.BPS) revert InvalidParameter("maxTop3Bps", p.maxTop3Bps);
        if (p.navMaxAge > MAX_NAV_AGE_LIMIT) revert InvalidParameter("navMaxAge", p.navMaxAge);
        _risk = p;
        emit RiskParamsSet(p);
    }

    function _checkFeed(uint32 heartbeat, uint128 minAnswer, uint128 maxAnswer) private pure {
        if (heartbeat == 0) revert InvalidParameter("heartbeat", 0);
        if (minAnswer == 0 || minAnswer >= maxAnswer) revert InvalidParameter("minAnswer", minAnswer);
    }

    function _writeFeed(Asset storage a, address token, address feed, uint32 heartbeat, uint128 minAnswer, uint128 maxAnswer)
        private
    {
        _checkFeed(heartbeat, minAnswer, maxAnswer);
        a.feed.feed = AggregatorV3Interface(feed);
        a.feed.heartbeat = heartbeat;
        a.feed.feedDecimals = AggregatorV3Interface(feed).decimals();
        a.feed.minAnswer = minAnswer;
        a.feed.maxAnswer = maxAnswer;
        emit FeedSet(token, feed, heartbeat, minAnswer, maxAnswer);
    }
}
