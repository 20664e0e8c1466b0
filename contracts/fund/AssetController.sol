// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {IAssetController} from "../interfaces/IAssetController.sol";
import {IAssetAdapter} from "../interfaces/IAssetAdapter.sol";
import {ITieredVault} from "../interfaces/ITieredVault.sol";
import {OracleLib} from "../libraries/OracleLib.sol";
import {BpsLib} from "../libraries/BpsLib.sol";
import {ValuationLib} from "../libraries/ValuationLib.sol";
import {AssetControllerStorage} from "./AssetControllerStorage.sol";
import {AssetControllerAdmin} from "./AssetControllerAdmin.sol";
import {ReleaseLib} from "../libraries/ReleaseLib.sol";

/// @title AssetController
/// @notice See IAssetController.
/// @dev Storage and constants in AssetControllerStorage; configuration in AssetControllerAdmin
/// (reached by delegatecall: the EIP-170 size limit; deployed before this controller and named
/// to its constructor: created here, its creation code made this contract's initcode come
/// within 67 bytes of EIP-3860's 49,152-byte limit).
contract AssetController is IAssetController, AssetControllerStorage {
    /// @notice The contract release this code belongs to (ASCII in a bytes32, e.g. "0.2.0"): the
    /// keepers refuse to drive contracts of a release their ABIs do not belong to.
    bytes32 public constant RELEASE = ReleaseLib.RELEASE;

    using SafeERC20 for IERC20;
    using OracleLib for OracleLib.Feed;

    /// @dev The configuration module, named at construction and never replaced.
    address private immutable _admin;

    /// @param module An AssetControllerAdmin of this release made for `vault_` (its immutables,
    /// the vault, its cash and decimals, are the ones its code runs with here): anything else is
    /// refused (AdminModuleMismatch), a module of another vault among it.
    constructor(
        ITieredVault vault_,
        address admin,
        AssetControllerAdmin module,
        TierConfig[3] memory tiers_,
        RiskParams memory risk_
    ) AssetControllerStorage(vault_) {
        if (admin == address(0)) revert ZeroAddress("admin");
        if (address(module) == address(0)) revert ZeroAddress("module");
        if (!_isModuleFor(module, vault_)) revert AdminModuleMismatch(address(module));
        _admin = address(module);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ADMIN_ROLE, admin);
        _setTiers(tiers_);
        _setRisk(risk_);
        // one base token: a position worth at most that even at its feed's upper bound is
        // dust the guardian may de-list (the timelock raises it, the guardian lowers it)
        _dustValue = uint128(10 ** _baseDecimals);
        emit DustValueSet(_dustValue);
    }

    /// @dev Whether `module` is an AssetControllerAdmin of this release made for `vault_` (a
    /// contract without its views answers no, not with its own revert). Constructor only.
    function _isModuleFor(AssetControllerAdmin module, ITieredVault vault_) private view returns (bool) {
        if (address(module).code.length == 0) return false;
        try module.RELEASE() returns (bytes32 r) {
            if (r != RELEASE) return false;
        } catch {
            return false;
        }
        try module.moduleVault() returns (address v) {
            return v == address(vault_);
        } catch {
            return false;
        }
    }

    /// @dev A tier member whose venue a rebalance move was cut at: skipped for the rest of the call.
    uint256 private constant _CUT = type(uint256).max;

    /// @dev `Snap.units` of a position the snapshot has not read yet: its accounted units are
    /// the last mark's (no uint128 count reaches it).
    uint256 private constant _UNREAD = type(uint256).max;

    /// @dev The first 4 bytes of `_viewFromAdmin`'s self-call, left-aligned: a selector none
    /// of this contract's functions has (bytes4(keccak256("AssetController.viewFromAdmin")),
    /// checked by tests/contracts/fund/test_controller_views.py).
    uint256 private constant _VIEW_TAG = 0xf65da32100000000000000000000000000000000000000000000000000000000;

    /* MODIFIERS */

    /// @dev A function, not inlined: the five keeper moves share one copy of the role, sequencer
    /// and pause checks (the pause check was each move's `whenNotPaused`, the modifier after
    /// this one: the same checks in the same order, in one copy for the EIP-170 size limit).
    modifier onlyKeeper() {
        _beforeMove();
        _;
    }

    function _beforeMove() private {
        _checkRole(KEEPER_ROLE);
        _checkSequencer();
        _startMove();
        if (_hot.paused) revert EnforcedPause(); // whenNotPaused
    }

    /// @dev From here to the move's mark users' pricing refuses (MovesUnderWay): the mark from
    /// before the move counts neither the cash in flight nor the units not yet marked.
    function _startMove() private {
        assembly ("memory-safe") {
            tstore(_MOVING_SLOT, 1)
        }
    }

    /// @dev The L2 sequencer-uptime check; its slot is read only when a feed is set.
    function _checkSequencer() private view {
        if (_hot.sequencerOn) OracleLib.checkSequencer(_sequencer, _sequencerGrace);
    }

    /* VIEWS */

    /// @inheritdoc IAssetController
    function vault() external view returns (address) {
        _viewFromAdmin();
    }

    /// @inheritdoc IAssetController
    function cash() external view returns (address) {
        _viewFromAdmin();
    }

    /// @inheritdoc IAssetController
    function pricingValues() external view returns (uint256 low, uint256 high, bool feedDown) {
        return _pricing(true);
    }

    /// @inheritdoc IAssetController
    function livePricingValues() external view returns (uint256 low, uint256 high, bool feedDown) {
        return _pricing(false);
    }

    /// @dev Users' pricing: the invested tiers (L2 + L3) without the vault's cash, which the
    /// vault adds itself (no call back to it here). `cheap`: from the stored mark while nothing
    /// it priced has changed (`_standing`), else the live pass, which reads every position;
    /// both give the same value to the wei. While the mark is fresh, the lower and the higher
    /// of it and that value.
    function _pricing(bool cheap) private view returns (uint256 low, uint256 high, bool feedDown) {
        assembly ("memory-safe") {
            if tload(_MOVING_SLOT) {
                mstore(0, 0x20523ba0) // MovesUnderWay(), checked by tests/contracts/fund/test_pricing_mid_move.py
                revert(28, 4)
            }
        }
        uint256 live;
        bool ok;
        if (cheap) (ok, live, feedDown) = _standing();
        if (!ok || feedDown) {
            live = 0;
            uint256 n = _list.length;
            Snap memory none; // pricing: no snapshot kept
            for (uint256 i; i < n; ++i) {
                (uint256 v, bool down) = _positionValue(i, true, none);
                live += v;
                if (down) feedDown = true;
            }
            // while down (entries refused, so no user is priced at it): what an outage exit's
            // fee arithmetic values the fund at (TieredVault._afterOutageExit)
            high = feedDown ? _lastGoodValue() : live;
        } else {
            high = live;
        }
        low = live;
        uint256 m = uint256(_markL2) + _markL3;
        // live at the mark's value (the cheap path's usual answer: every line held): the lower
        // and the higher of the two are both it, fresh or not, so the mark's age is not read
        if (m == live) return (low, high, feedDown);
        // cannot overflow: a uint32 timestamp plus a uint32 age (a never-set mark, at 0, is
        // older than any navMaxAge since block timestamps are far above 1 day)
        unchecked {
            if (uint256(_markedAt) + _hot.navMaxAge >= block.timestamp) {
                if (m < low) low = m;
                else if (!feedDown) high = m;
            }
        }
    }

    /// @dev The live pass with each down or held position at its last good value: the priced
    /// positions live, the others at their last valued mark's value scaled to their units now.
    function _lastGoodValue() private view returns (uint256 value) {
        uint256 n = _list.length;
        Snap memory none; // pricing: no snapshot kept
        for (uint256 i; i < n; ++i) {
            (uint256 v, bool down) = _positionValue(i, true, none);
            value += down ? _lastGood(i, _held(_list[i])) : v;
        }
    }

    /// @dev Position i's last good value (the last valued mark's, `_marked`), scaled to the
    /// units the fund holds of it now (at most the marked ones: an outsider's transfer never counts).
    function _lastGood(uint256 i, uint256 units) private view returns (uint256) {
        MarkedPosition memory mp = _marked[i];
        // a uint120 times a uint128: cannot overflow; mp.units above units, so not 0
        return units < mp.units ? mp.value * units / mp.units : mp.value;
    }

    /// @dev The live value of the invested tiers from the stored mark, if its lines still
    /// hold (`ok`): written with this mark (the lines' contract) and no held asset's marked
    /// answer past its heartbeat. A position whose feed answers latestRoundData() with the
    /// very words the mark read (all five: round, answer, startedAt, updatedAt, answeredInRound;
    /// compared by a 94-bit fingerprint of them) is worth to the wei what the mark counted:
    /// the price check (OracleLib.tryPrice) sees the same words, and the units change only by
    /// the controller's own moves (each one marks again; a third party's transfer never counts,
    /// on either path: `_positionValue`). No round id is trusted by default: a feed that keeps its
    /// round across answers (RedStone's PriceFeedWithoutRounds answers round 1 forever) changes
    /// the answer or updatedAt, so the fingerprint. Only a feed the timelock vouched for as
    /// bumping its round on every answer (`setRoundsBumped`: Chainlink's aggregators) is
    /// checked by its latestRoundData's cheaper sibling, latestRound(), against the marked
    /// round. Any other held position (a new answer, an asynchronous request) is read live in
    /// place of its marked value (`_marked`), so one feed's new answer costs one
    /// position's read, not the whole live pass.
    function _standing() private view returns (bool ok, uint256 live, bool down) {
        MarkLines memory ml = _markLines;
        // at 0: no lines (never marked, a mark kept through an outage, a configuration change)
        if (ml.at == 0 || ml.at != _markedAt || block.timestamp > ml.validUntil) return (false, 0, false);
        uint256 n = ml.n;
        uint256[] memory lines = new uint256[](n);
        address blob = ml.lines;
        // a contract whose code is not exactly STOP and the n lines (none: n is 0) proves nothing
        if (n != 0) {
            if (blob.code.length != n * 32 + 1) return (false, 0, false);
            assembly ("memory-safe") {
                extcodecopy(blob, add(lines, 32), 1, mul(n, 32))
            }
        }
        live = uint256(_markL2) + _markL3;
        for (uint256 i; i < n; ++i) {
            uint256 line = lines[i];
            if (line == 0) continue; // empty at the mark, and only a move (a new mark) fills it
            bool same;
            if (line != _LIVE_ONLY) {
                assembly ("memory-safe") {
                    let f := and(line, 0xffffffffffffffffffffffffffffffffffffffff)
                    let p := mload(0x40) // scratch past the free pointer, never kept
                    switch and(line, _ROUND_LINE)
                    case 0 {
                        // no round id trusted: the fingerprint of all five words
                        mstore(p, shl(224, 0xfeaf968c)) // latestRoundData()
                        let ok_ := staticcall(gas(), f, p, 4, p, 160)
                        same := and(and(ok_, iszero(lt(returndatasize(), 160))), eq(shr(162, keccak256(p, 160)), shr(160, line)))
                    }
                    default {
                        // vouched for (timelock) as bumping its round on every answer
                        mstore(p, shl(224, 0x668a0f02)) // latestRound()
                        let ok_ := staticcall(gas(), f, p, 4, p, 32)
                        same := and(and(ok_, iszero(lt(returndatasize(), 32))), eq(mload(p), and(shr(160, line), 0x3fffffffffffffffffffffff)))
                    }
                }
            }
            if (!same) {
                // a new answer, or live-only: this position live, in place of what the mark counted
                Snap memory none; // pricing: no snapshot kept (allocated only here, where it is needed)
                (uint256 v, bool d) = _positionValue(i, true, none);
                live = live - _marked[i].value + v;
                if (d) down = true;
            }
        }
        ok = true;
    }

    /// @inheritdoc IAssetController
    function dustValue() external view returns (uint256) {
        _viewFromAdmin();
    }

    /// @inheritdoc IAssetController
    function fallbackFeed(address) external view returns (address) {
        _viewFromAdmin();
    }

    /// @inheritdoc IAssetController
    function markedAt() external view returns (uint64) {
        _viewFromAdmin();
    }

    /// @inheritdoc IAssetController
    function tier(uint8) external view returns (TierConfig memory) {
        _viewFromAdmin();
    }

    /// @inheritdoc IAssetController
    function assetParams(address) external view returns (AssetParams memory) {
        _viewFromAdmin();
    }

    /// @inheritdoc IAssetController
    function assetList() external view returns (address[] memory) {
        _viewFromAdmin();
    }

    /// @inheritdoc IAssetController
    function defaultAsset(uint8) external view returns (address) {
        _viewFromAdmin();
    }

    /// @inheritdoc IAssetController
    function riskParams() external view returns (RiskParams memory) {
        _viewFromAdmin();
    }

    /// @inheritdoc IAssetController
    function paused() external view returns (bool) {
        _viewFromAdmin();
    }

    /// @inheritdoc IAssetController
    function cashInBand() external view returns (bool) {
        _viewFromAdmin();
    }

    /// @inheritdoc IAssetController
    function markedValues() external view returns (uint256, uint256) {
        _viewFromAdmin();
    }

    /// @inheritdoc IAssetController
    function moveLimits() external view returns (MoveLimits memory) {
        _viewFromAdmin();
    }

    /// @inheritdoc IAssetController
    function budgetUsage() external view returns (uint256 lossUsed, uint256 notionalUsed) {
        _viewFromAdmin();
    }

    /// @inheritdoc IAssetController
    function sequencerFeed() external view returns (address, uint32) {
        _viewFromAdmin();
    }

    /// @inheritdoc IAssetController
    function valueOf(address, uint256) external view returns (uint256) {
        _viewFromAdmin();
    }

    /// @inheritdoc IAssetController
    function roundsBumped(address) external view returns (bool) {
        _viewFromAdmin();
    }

    /// @inheritdoc IAssetController
    function accountedUnits(address) external view returns (uint256) {
        _viewFromAdmin();
    }

    /// @inheritdoc IAssetController
    function adminModule() external view returns (address) {
        return _admin;
    }

    /// @inheritdoc IAssetController
    function priceHold(address)
        external
        view
        returns (bool, uint256, uint256, uint256, uint256, uint16, uint16, uint64)
    {
        _viewFromAdmin();
    }

    /* MOVES */

    /// @inheritdoc IAssetController
    function allocateToLayer(uint8 t, uint256 amount)
        external
        onlyKeeper
        nonReentrant
        returns (uint256 invested)
    {
        _checkTierMove(t, amount);
        Snap memory s = _snapshot();
        _noBuyInAnOutage(s);
        invested = _deployToTier(s, t, amount);
        _afterMoves(s);
        if (amount - invested >= _legFloor()) _revert2(TierCapacityExhausted.selector, t, amount - invested);
        _storeMark(s);
        emit Allocated(t, invested);
    }

    /// @inheritdoc IAssetController
    function purchaseAsset(address token, uint256 cashAmount, uint256 minOut)
        external
        onlyKeeper
        nonReentrant
        returns (uint256)
    {
        if (cashAmount == 0) revert ZeroAmount();
        Snap memory s = _snapshot();
        _noBuyInAnOutage(s);
        (uint256 out,) = _purchase(s, _indexOf(token), cashAmount, minOut, _risk.maxSlippageBps);
        _afterMoves(s);
        _storeMark(s);
        return out;
    }

    /// @inheritdoc IAssetController
    function redeemAsset(address token, uint256 tokenAmount, uint256 minOut)
        external
        onlyKeeper
        nonReentrant
        returns (uint256 cashOut)
    {
        if (tokenAmount == 0) revert ZeroAmount();
        Snap memory s = _snapshot();
        cashOut = _redeem(s, _indexOf(token), tokenAmount, minOut, _risk.maxSlippageBps);
        _afterMoves(s);
        _storeMark(s);
    }

    /// @inheritdoc IAssetController
    function rebalanceBuffer() external onlyKeeper nonReentrant {
        Snap memory s = _snapshot();
        uint256 before = s.tierValues[0];
        uint256 target = BpsLib.share(s.gross, _targets[0]);
        if (before > target) {
            _noBuyInAnOutage(s);
            uint256 excess = before - target;
            uint256 d1 = _deficit(s, 1);
            uint256 d2 = _deficit(s, 2);
            if (d1 + d2 == 0) (d1, d2) = (_targets[1], _targets[2]);
            uint256 x1 = Math.mulDiv(excess, d1, d1 + d2);
            if (x1 != 0) _deployToTier(s, 1, x1);
            if (excess - x1 != 0) _deployToTier(s, 2, excess - x1);
        } else if (before < target) {
            _waterfall(s, target - before, 2);
        }
        _afterMoves(s);
        _storeMark(s);
        emit BufferRebalanced(before, s.tierValues[0]);
    }

    /// @inheritdoc IAssetController
    function executeWaterfallLiquidation(uint256 amountNeeded, uint8 maxTier)
        external
        onlyKeeper
        nonReentrant
        returns (uint256 raised)
    {
        _checkTierMove(maxTier, amountNeeded);
        Snap memory s = _snapshot();
        raised = _waterfall(s, amountNeeded, maxTier);
        _afterMoves(s);
        // marked first: the vault prices the fulfilment through pricingValues(), which must see
        // the fund as the sales left it (the cash they raised is in the vault, not in the mark)
        _storeMark(s);
        _fulfil();
        emit WaterfallLiquidated(amountNeeded, maxTier, raised);
    }

    /// @inheritdoc IAssetController
    function rebalance(bool force) external returns (bool moved, bool offTarget) {
        // `_hot` is one slot: all the no-op reads besides the caller's role
        if (_hot.paused) revert EnforcedPause();
        if (_reentrancyGuardEntered()) revert ReentrancyGuardReentrantCall();
        // holds REBALANCER_ROLE or KEEPER_ROLE (one slot: see _rebalanceTag)
        uint8 tag = _rebalanceTag[msg.sender];
        if (tag == 0) revert NotRebalancer(msg.sender);
        _checkSequencer();
        // nothing to do in band: the mark is fresh and the vault's available cash has stayed in
        // the band of cash that keeps every tier in its band at that mark (the vault checks it
        // on every change it makes: noteMark, cashLeftBand), so no oracle and no balance is read
        // cannot overflow: a uint32 timestamp plus a uint32 age
        unchecked {
            if (!force && _hot.cashInBand && uint256(_hot.markedAt) + _hot.navMaxAge >= block.timestamp) {
                emit Rebalanced(msg.sender, false, false);
                return (false, false);
            }
        }
        return _rebalance(force, tag);
    }

    /// @dev rebalance() past its no-op: a full valuation, and the moves when out of band (or forced).
    function _rebalance(bool force, uint8 tag) private nonReentrant returns (bool moved, bool offTarget) {
        _startMove();
        bool fund;
        {
            Snap memory s = _snapshot();
            // A held asset whose feed is down is valued 0 here: every move would be sized on a
            // wrong gross (buying the other assets of its tier, selling the rest). The run is
            // refused, as mark() is, so a Rebalancer books its retry soon (backing off while the
            // outage lasts) instead of a whole interval later. Only units the fund accounts for
            // count (`_positionValue`): nobody's transfer makes a position down.
            if (s.down) revert MarkWhileFeedDown();
            if (s.gross != 0 && (force || !_inBands(s))) {
                // Anyone may execute a due run, at a moment of their choosing: each swap fills
                // only up to the internal bound's price and carries the rest, so a pool moved
                // against the fund sells it nothing worse than the bound.
                s.within = true;
                // A REBALANCER_ROLE caller's run (the scheduled one, which any executor times;
                // also when the caller holds KEEPER_ROLE too) trades only at prices nobody sets
                // in its block (an ERC-4626 venue's share price, the fund's mark): a pool venue
                // fills nothing (MoveCut, left to the keeper's planned and simulated moves, not
                // retried), so no sandwich, plain or just-in-time, has a leg to fill.
                s.scheduled = tag >= _TAG_REBALANCER;
                uint256 minMove = _risk.minMoveValue;
                // Sell what the invested tiers hold above target; the cash lands in L1. The
                // snapshot is kept current as each move happens: one valuation pass for the call.
                for (uint8 t = 1; t < 3; ++t) {
                    uint256 tv = BpsLib.share(s.gross, _targets[t]);
                    if (s.tierValues[t] > tv + minMove) {
                        moved = _sellFromTier(s, t, s.tierValues[t] - tv) != 0 || moved;
                    }
                }
                // Deploy the cash above L1's target to the tiers below theirs.
                uint256 target0 = BpsLib.share(s.gross, _targets[0]);
                uint256 surplus = s.tierValues[0] > target0 ? s.tierValues[0] - target0 : 0;
                for (uint8 t = 1; t < 3 && surplus > minMove; ++t) {
                    uint256 d = _deficit(s, t);
                    uint256 x = d < surplus ? d : surplus;
                    if (x > minMove) {
                        uint256 done = _deployToTier(s, t, x);
                        surplus -= done;
                        moved = done != 0 || moved;
                    }
                }
                _afterMoves(s);
                if (s.cut) {
                    // out of band and every move cut to nothing: refused, so that the run is
                    // retried soon; some cut and still out of band: said, for the same retry
                    if (!moved) revert RebalanceHeld();
                    offTarget = !_inBands(s);
                }
                fund = _vaultView(ITieredVault.pendingRedemptions.selector) != 0;
            }
            _storeMark(s);
            // after the mark: the vault prices the fulfilment through pricingValues(), which
            // must see the fund as the moves left it (at the old mark, cash just invested would
            // count nowhere and cash just raised twice)
            if (fund) _fulfil();
        }
        emit Rebalanced(msg.sender, force, moved);
    }

    /// @inheritdoc IAssetController
    /// @dev In the admin module (the EIP-170 size limit), which marks through mark().
    function settle(address token) external returns (uint256 tokensIn, uint256 cashIn) {
        (token, tokensIn, cashIn); // named for the ABI; the module reads the calldata itself
        _delegateToAdmin();
    }

    /// @inheritdoc IAssetController
    function cashLeftBand() external {
        if (msg.sender != address(_vault)) revert NotVault(msg.sender);
        _hot.cashInBand = false;
    }

    /// @inheritdoc IAssetController
    function mark() external nonReentrant returns (uint256) {
        Snap memory s = _snapshot();
        if (s.down) revert MarkWhileFeedDown();
        _storeMark(s);
        return s.tierValues[1] + s.tierValues[2];
    }

    /* CONFIGURATION (delegated to the admin module, see AssetControllerAdmin) */
    /// @inheritdoc IAssetController
    function setTiers(TierConfig[3] calldata) external {
        _delegateToAdmin();
    }

    /// @inheritdoc IAssetController
    function addAsset(AssetParams calldata) external {
        _delegateToAdmin();
    }

    /// @inheritdoc IAssetController
    function removeAsset(address) external {
        _delegateToAdmin();
    }

    /// @inheritdoc IAssetController
    function setDefaultAsset(uint8, address) external {
        _delegateToAdmin();
    }

    /// @inheritdoc IAssetController
    function setAssetLimits(address, uint128, uint16) external {
        _delegateToAdmin();
    }

    /// @inheritdoc IAssetController
    function setFeed(address, address, uint32, uint128, uint128) external {
        _delegateToAdmin();
    }

    /// @inheritdoc IAssetController
    function setRoundsBumped(address, bool) external {
        _delegateToAdmin();
    }

    /// @inheritdoc IAssetController
    function setRiskParams(RiskParams calldata) external {
        _delegateToAdmin();
    }

    /// @inheritdoc IAssetController
    function setMoveLimits(MoveLimits calldata) external {
        _delegateToAdmin();
    }

    /// @inheritdoc IAssetController
    function setSequencerFeed(address, uint32) external {
        _delegateToAdmin();
    }

    /// @inheritdoc IAssetController
    function setFallbackFeed(address, address, uint32, uint128, uint128) external {
        _delegateToAdmin();
    }

    /// @inheritdoc IAssetController
    function useFallbackFeed(address) external {
        _delegateToAdmin();
    }

    /// @inheritdoc IAssetController
    function setDustValue(uint128) external {
        _delegateToAdmin();
    }

    /// @inheritdoc IAssetController
    function setPriceStepBound(address, uint16, uint16) external {
        _delegateToAdmin();
    }

    /// @inheritdoc IAssetController
    function acceptPrice(address) external {
        _delegateToAdmin();
    }

    /// @inheritdoc IAssetController
    function pause() external {
        _delegateToAdmin();
    }

    /// @inheritdoc IAssetController
    function unpause() external {
        _delegateToAdmin();
    }

    /* ROLES (AccessControl's, delegated to the admin module: the EIP-170 size limit) */

    /// @dev AccessControl's grantRole as it is (the role's admin only), run on this contract's
    /// storage by the admin module, which shares AssetControllerStorage's `_grantRole` (the
    /// rebalance tag kept current): only the code moved.
    function grantRole(bytes32, address) public override {
        _delegateToAdmin();
    }

    /// @dev AccessControl's revokeRole, delegated as grantRole is.
    function revokeRole(bytes32, address) public override {
        _delegateToAdmin();
    }

    /// @dev AccessControl's renounceRole, delegated as grantRole is (msg.sender is kept).
    function renounceRole(bytes32, address) public override {
        _delegateToAdmin();
    }

    /* INTERNAL: MOVES */

    /// @dev `boundBps`: the oracle-derived minimum's slippage: the risk params' for an explicit
    /// keeper call (which brings its own quoted minOut), the tight internal bound for the
    /// controller's own swaps (rebalance, allocation, waterfall), which nobody else sizes.
    /// In rebalance (`s.within`) an instant purchase fills up to the bound's rate and sends the
    /// rest of the cash back to the vault; `spent` is what was used.
    function _purchase(Snap memory s, uint256 i, uint256 cashAmount, uint256 minOut, uint256 boundBps)
        private
        returns (uint256 out, uint256 spent)
    {
        address token = s.tokens[i];
        Asset storage a = _assets[token];
        OracleLib.Feed memory f = _feedOf(a); // gas-mark: Asset laid out flat
        uint256 p = _price(s, i, f);
        uint256 before = _held(token);
        _vault.pullCash(address(a.adapter), cashAmount);
        // what the cash buys at the oracle: an instant move's bound, priced again only when a
        // cut fill spent less
        uint256 oracleOut = a.instant ? f.toToken(cashAmount, p, _baseDecimals, Math.Rounding.Floor) : 0;
        if (s.within && a.instant) {
            spent = _investWithin(s, token, a.adapter, cashAmount, _withinMin(oracleOut, boundBps));
            if (spent == 0) return (0, 0);
            if (spent != cashAmount) {
                cashAmount = spent;
                oracleOut = f.toToken(spent, p, _baseDecimals, Math.Rounding.Floor);
            }
        } else {
            a.adapter.invest(token, cashAmount);
            spent = cashAmount;
        }
        out = _held(token) - before;
        if (a.instant) {
            _checkInstantMove(out, minOut, oracleOut, boundBps);
            _bookInstantMove(s, cashAmount, f.toBase(out, p, _baseDecimals));
            // the snapshot brought current without reading the vault or the position again: the
            // vault paid exactly `cashAmount` out of its available cash (pullCash checked that it
            // could, and any unspent rest is back), and the position is `before + out` units at `p`
            s.tierValues[0] -= cashAmount;
            // the units the fund accounts for grow by what it bought, not by anyone's transfer
            uint256 units = s.units[i] + out;
            _set(s, i, a.tier, f.toBase(units, p, _baseDecimals));
            s.units[i] = units; // gas-mark: the units the mark stores (Snap.units)
        } else {
            _useBudget(s, 0, cashAmount);
            _update(s, i);
        }
        _checkAfterBuy(s, i, a);
        emit Purchased(token, cashAmount, out, !a.instant);
    }

    function _redeem(Snap memory s, uint256 i, uint256 tokenAmount, uint256 minOut, uint256 boundBps)
        private
        returns (uint256 out)
    {
        address token = s.tokens[i];
        Asset storage a = _assets[token];
        OracleLib.Feed memory f = _feedOf(a); // gas-mark: Asset laid out flat
        uint256 p = _price(s, i, f);
        if (a.instant) {
            uint256 redeemable = a.adapter.redeemableNow(token, address(this), _held(token));
            if (tokenAmount > redeemable) _revert3(NotRedeemableNow.selector, uint160(token), tokenAmount, redeemable);
        }
        uint256 before = _held(address(_cash));
        IERC20(token).safeTransfer(address(a.adapter), tokenAmount);
        if (s.within && a.instant) {
            uint256 back = _divestWithin(s, i, tokenAmount, _withinMin(f.toBase(tokenAmount, p, _baseDecimals), boundBps));
            if (back != 0) {
                if (!s.scheduled) s.cut = true; // as in _investWithin
                _moveCut(token, tokenAmount, tokenAmount - back);
                tokenAmount -= back;
                if (tokenAmount == 0) return 0;
            }
        } else {
            a.adapter.divest(token, tokenAmount);
        }
        out = _held(address(_cash)) - before;
        if (a.instant) {
            uint256 oracleOut = f.toBase(tokenAmount, p, _baseDecimals);
            _checkInstantMove(out, minOut, oracleOut, boundBps);
            _bookInstantMove(s, oracleOut, out);
        } else {
            _useBudget(s, 0, f.toBase(tokenAmount, p, _baseDecimals));
        }
        if (out != 0) _cashToVault(s, out);
        // the units the fund accounts for shrink by what it sold (at most all of them)
        uint256 acct = s.units[i];
        s.units[i] = acct > tokenAmount ? acct - tokenAmount : 0;
        _update(s, i);
        emit Redeemed(token, tokenAmount, out, !a.instant);
    }

    /// @dev `token.balanceOf(this)` as a high-level call would answer it (the callee's revert
    /// bubbled up; an answer shorter than a word refused), in one shared copy: each of the legs'
    /// ten reads was a full call sequence of its own (the EIP-170 size limit).
    function _held(address token) private view returns (uint256 b) {
        assembly ("memory-safe") {
            mstore(0, 0x70a08231) // balanceOf(address)
            mstore(0x20, address())
            if iszero(staticcall(gas(), token, 28, 36, 0, 32)) {
                returndatacopy(0, 0, returndatasize())
                revert(0, returndatasize())
            }
            if lt(returndatasize(), 32) { revert(0, 0) }
            b := mload(0)
        }
    }

    /// @dev investWithin on `token`'s venue (`adapter`, its registered one, which the caller
    /// has read): returns the cash spent; the rest goes back to the vault, and a cut is
    /// recorded on the snapshot and emitted.
    function _investWithin(Snap memory s, address token, IAssetAdapter adapter, uint256 cashAmount, uint256 minOut)
        private
        returns (uint256 spent)
    {
        address c = address(_cash); // read once (an immutable: a 33-byte push at each read)
        uint256 held = s.cashHeld;
        if (held == 0) s.cashHeld = held = _held(c) + 1;
        adapter.investWithin(token, cashAmount, minOut, s.scheduled);
        uint256 back = _held(c) + 1 - held;
        spent = cashAmount - back;
        if (back != 0) {
            _cashToVault(s, back);
            // a scheduled run's pool leg: no retry can trade it, so none is asked for
            if (!s.scheduled) s.cut = true;
            _moveCut(token, cashAmount, spent);
        }
    }

    /// @dev `amount` of the controller's cash to the vault, booked on the snapshot as this
    /// call's (`Snap.toVault`, which the mark hands to the vault's fee book): one shared copy
    /// for a sale's proceeds and a cut purchase's rest (the EIP-170 size limit).
    function _cashToVault(Snap memory s, uint256 amount) private {
        _cash.safeTransfer(address(_vault), amount);
        s.toVault += amount;
    }

    /// @dev divestWithin on position i's venue (the tokens already sent to it): returns the
    /// unsold tokens that came back, told from what stayed here after the transfer out.
    function _divestWithin(Snap memory s, uint256 i, uint256 tokenAmount, uint256 minOut)
        private
        returns (uint256 back)
    {
        address token = s.tokens[i];
        uint256 kept = _held(token);
        _assets[token].adapter.divestWithin(token, tokenAmount, minOut, s.scheduled);
        back = _held(token) - kept;
    }

    /// @dev The price guard of an instant purchase or redemption: `out` (what came back) at
    /// least the larger of the caller's `minOut` and the oracle's `oracleOut` less `boundBps`.
    function _checkInstantMove(uint256 out, uint256 minOut, uint256 oracleOut, uint256 boundBps) private pure {
        uint256 oracleMin = BpsLib.less(oracleOut, boundBps);
        uint256 min = minOut > oracleMin ? minOut : oracleMin;
        if (out < min) _revert2(SlippageExceeded.selector, min, out);
    }

    /// @dev Then the loss check and the window budgets for `valueIn` exchanged for `valueOut`
    /// (both in base units).
    function _bookInstantMove(Snap memory s, uint256 valueIn, uint256 valueOut) private view {
        _checkLoss(valueIn, valueOut);
        _useBudget(s, valueIn > valueOut ? valueIn - valueOut : 0, valueIn);
    }

    /// @dev The arguments of a keeper move into or out of the invested tiers: an invested tier
    /// (1 or 2) and a non-zero amount.
    function _checkTierMove(uint8 t, uint256 amount) private pure {
        _requireInvestedTier(t);
        if (amount == 0) revert ZeroAmount();
    }

    /// @dev No buy while a held asset's feed is down (a purchase, an allocation, the buffer's
    /// deploy; the rebalance refuses every move, `_rebalance`): its tier's value, the caps and
    /// the concentration bounds would be judged on a gross with it at zero, and the mark kept
    /// through the outage would leave the buy out, making it the lower value that prices the
    /// outage's exits (a 50,000 buy lowered a 10% exit by 4,250). Sales still run (cash for
    /// redemptions: the keeper's degraded mode). Once per call, not per leg.
    function _noBuyInAnOutage(Snap memory s) private pure {
        if (s.down) revert MarkWhileFeedDown();
    }

    /// @dev Invests up to `amount` in tier `t`, aiming at equal weights inside the tier: each
    /// asset is first filled up to an equal share of the tier's new value, then what is left goes
    /// to any asset with headroom under its cap and concentration limit, default asset first
    /// (leftovers below `_legFloor()` stay in L1). Returns what was invested.
    function _deployToTier(Snap memory s, uint8 t, uint256 amount) private returns (uint256 invested) {
        (uint256[] memory members, uint256 k) = _members(s, t);
        uint256 equalShare = (s.tierValues[t] + amount) / k;
        uint256 bound = _internalBound(); // read once for the call's legs, which never change it
        uint256 floor = _legFloor(); // the same (no configuration changes under a move: _notDuringMove)
        // A scheduled run fills only the equal-share pass: its pool legs fill nothing, and a
        // second pass would pour their share into the tier's ERC-4626 members up to each one's
        // own limit, past the fund's top-3 bound, reverting the whole run (what the pool legs
        // could not take stays in L1 for the keeper's own run).
        for (uint256 pass; pass < (s.scheduled ? 1 : 2) && invested < amount; ++pass) {
            for (uint256 j; j < k && invested < amount; ++j) {
                uint256 i = members[j];
                if (i == _CUT) continue;
                uint256 x = _legSize(s, members, j, amount - invested, pass == 0, equalShare);
                // dust stays in L1, in both passes: a leg of a few base units only buys rounding
                // error (3 units of a fund priced at 1.05 buy 2 shares, a third lost), which the
                // loss guard refuses, reverting the whole move with it
                if (x < floor) continue;
                (, uint256 spent) = _purchase(s, i, x, 0, bound);
                invested += spent;
                // cut at the bound (rebalance only): this venue takes nothing more in this call
                if (spent < x) members[j] = _CUT;
            }
        }
    }

    /// @dev The leg `_deployToTier` buys into member j (`x` what is left of its amount): in the
    /// first pass at most what brings it to `equalShare`; then within its room (`_room`) and
    /// the top-3 bound (`_top3Cut`); then bounded by the venue's own limit (an ERC-4626 fund's
    /// maxDeposit, which anyone can fill): the shortfall is a cut leg (MoveCut; the rest of the
    /// move and the other venues go on) and the venue takes nothing more in this call
    /// (`members[j]` cut).
    function _legSize(Snap memory s, uint256[] memory members, uint256 j, uint256 x, bool first, uint256 equalShare)
        private
        returns (uint256)
    {
        uint256 i = members[j];
        address token = s.tokens[i];
        Asset storage a = _assets[token];
        (uint256 room, uint256 v) = _room(s, i, a);
        if (first) {
            uint256 want = equalShare > v ? equalShare - v : 0;
            if (want < x) x = want;
        }
        if (room < x) x = room;
        x = _top3Cut(s, i, x);
        uint256 venue = a.adapter.investableNow(token, address(this));
        if (venue >= x) return x;
        _moveCut(token, x, venue);
        members[j] = _CUT;
        return venue;
    }

    /// @dev Tier t's assets as indices into _list, its default asset first, and how many.
    function _members(Snap memory s, uint8 t) private view returns (uint256[] memory members, uint256 k) {
        address first = _default[t];
        if (first == address(0)) revert NoAssetInTier(t);
        address[] memory tokens = s.tokens;
        uint256 n = tokens.length;
        members = new uint256[](n);
        k = 1;
        for (uint256 i; i < n; ++i) {
            address token = tokens[i];
            if (token == first) members[0] = i;
            else if (_assets[token].tier == t) members[k++] = i;
        }
    }

    /// @dev Sells about `value` of tier `t`'s instant assets, largest position first.
    function _sellFromTier(Snap memory s, uint8 t, uint256 value) private returns (uint256 raised) {
        uint256 n = s.tokens.length;
        bool[] memory done = new bool[](n);
        while (raised < value) {
            (uint256 best, uint256 bestValue) = (type(uint256).max, 0);
            for (uint256 i; i < n; ++i) {
                Asset storage a = _assets[s.tokens[i]];
                if (done[i] || a.tier != t) continue;
                if (!a.instant) {
                    done[i] = true;
                    _skipped(s.tokens[i], t, 1);
                    continue;
                }
                // ranked by value at the oracle (the snapshot's), not raw units; a position
                // whose feed is down is valued 0 there and is not sold here
                uint256 v = s.values[i];
                if (v > bestValue) (best, bestValue) = (i, v);
            }
            if (best == type(uint256).max) break;
            done[best] = true;
            raised += _sellValue(s, best, t, value - raised);
        }
    }

    /// @dev Redeems about `value` of an instant asset (capped by what is redeemable now).
    function _sellValue(Snap memory s, uint256 i, uint8 t, uint256 value) private returns (uint256) {
        address token = s.tokens[i];
        Asset storage a = _assets[token];
        // only the units the fund accounts for: an outsider's transfer changes no move
        uint256 redeemable = a.adapter.redeemableNow(token, address(this), s.units[i]);
        // held by its step bound: never sold at the stepped price (the others raise the cash)
        if (redeemable == 0 || s.prices[i] == _HELD) {
            _skipped(token, t, redeemable == 0 ? 2 : 3);
            return 0;
        }
        OracleLib.Feed memory f = _feedOf(a); // gas-mark: Asset laid out flat
        uint256 tokens = f.toToken(value, _price(s, i, f), _baseDecimals, Math.Rounding.Ceil);
        if (tokens > redeemable) tokens = redeemable;
        return _redeem(s, i, tokens, 0, _internalBound());
    }

    function _waterfall(Snap memory s, uint256 amountNeeded, uint8 maxTier) private returns (uint256 raised) {
        for (uint8 t = 1; t <= maxTier && raised < amountNeeded; ++t) {
            raised += _sellFromTier(s, t, amountNeeded - raised);
        }
    }

    /* INTERNAL: GUARDS AND VALUATION */

    /// @dev The minimum out handed to an adapter's *Within call: one basis point inside the
    /// bound that `_checkInstantMove` applies, so a partial fill's rounding never trips it.
    function _withinMin(uint256 oracleOut, uint256 boundBps) private pure returns (uint256) {
        return BpsLib.less(oracleOut, boundBps > 1 ? boundBps - 1 : 0);
    }

    /// @dev The smallest leg a deploy buys: minMoveValue, and never under one whole base token
    /// (at least 1 when minMoveValue is 0; below it a leg is rounding error, see _deployToTier).
    function _legFloor() private view returns (uint256) {
        uint256 m = _risk.minMoveValue;
        uint256 one = OracleLib.pow10(_baseDecimals);
        return m > one ? m : one;
    }

    function _internalBound() private view returns (uint256) {
        uint256 b = _limits.internalSlippageBps;
        uint256 m = _risk.maxSlippageBps;
        return b < m ? b : m;
    }

    /// @dev After a call's last move, before its mark and any call out: the fund-wide guards of
    /// its buys (`_checkBuys`) and the window budgets' usage its legs booked (`_useBudget`),
    /// written once. Every move function runs it: a leg whose usage were never written would
    /// not count against the budget (test_budget_once.py holds each path to it).
    function _afterMoves(Snap memory s) private {
        _checkBuys(s);
        _storeUsage(s);
    }

    function _checkLoss(uint256 valueIn, uint256 valueOut) private view {
        if (valueOut >= valueIn) return;
        uint256 lossBps = Math.mulDiv(valueIn - valueOut, BpsLib.BPS, valueIn, Math.Rounding.Ceil);
        if (lossBps > _risk.maxValueLossBps) _revert2(ValueLossExceeded.selector, lossBps, _risk.maxValueLossBps);
    }

    /// @dev After a buy of asset i, on the snapshot `_update`/`_set` has just brought current:
    /// its cap and concentration limit, checked at once; the fund-wide limits (top-3, tier
    /// max) are checked once after the call's last buy (`_checkBuys`), for which this notes
    /// the tier bought and the lowest non-zero gross a buy left.
    function _checkAfterBuy(Snap memory s, uint256 i, Asset storage a) private view {
        uint256 v = s.values[i];
        if (v > a.cap) _revert3(AssetCapExceeded.selector, uint160(s.tokens[i]), v, a.cap);
        uint256 g = s.gross;
        uint256 c = BpsLib.ratio(v, g);
        if (c > a.maxConcentrationBps) _revert3(ConcentrationExceeded.selector, uint160(s.tokens[i]), c, a.maxConcentrationBps);
        if (g != 0 && (s.buyGross == 0 || g < s.buyGross)) s.buyGross = g;
        s.bought |= 1 << a.tier;
    }

    /// @dev The fund-wide after-buy guards, top-3 and the bought tiers' max (`s.bought`, bit
    /// t: tier t), once, after the call's last buy; as strict as checking them after every
    /// buy, which they were. Every caller runs it after a run of buys with no sell or other
    /// valuation change after the first buy (purchaseAsset: one buy; allocateToLayer,
    /// rebalanceBuffer: buys only; rebalance: its sells all come before its buys). Within such
    /// a run:
    /// - `s.values[i]` changes only by a buy of i (`_set`/`_update` of i), to at least what it
    ///   was: the units held only grow (nothing leaves the controller during buys), priced at
    ///   the same answer (`_price`: one read per call), and an asynchronous position's pending
    ///   request grows by what it was sent. So each tier's total (a sum of its positions) and
    ///   the sum of the three largest values only grow: each per-buy check's numerator is at
    ///   most the final one.
    /// - The gross can move either way (a buy exchanges cash for a position worth less, or
    ///   more, at the oracle), so the final ratios are taken over `s.buyGross`, the lowest
    ///   non-zero gross any buy left, at most each per-buy check's denominator (a zero gross
    ///   passed every ratio check before: BpsLib.ratio is 0 over 0).
    /// BpsLib.ratio rounds down and is monotone in both arguments, so a run any per-buy check
    /// refused is refused here with the same error; a later buy that gains at the oracle
    /// cannot hide an earlier breach by raising the gross. Stricter only where the gross moved
    /// during the buys: a tier bought early that the later buys' slippage pushed over its max
    /// is refused (its end state breaks the band), and one whose check a gain relaxed is
    /// judged over the gross before the gain (a gain beyond the controller's slippage needs a
    /// feed above its venue's price). A run that fails another guard after the breaching buy
    /// reverts with that guard's error instead: either way nothing moves.
    function _checkBuys(Snap memory s) private view {
        uint256 bought = s.bought;
        if (bought == 0) return;
        uint256 g = s.buyGross;
        uint256 top3 = ValuationLib.top3Bps(s.values, g);
        if (top3 > _risk.maxTop3Bps) _revert2(Top3ConcentrationExceeded.selector, top3, _risk.maxTop3Bps);
        uint96 bands = _hot.bands;
        for (uint8 t = 1; t < 3; ++t) {
            if (bought & (1 << t) == 0) continue;
            uint256 r = BpsLib.ratio(s.tierValues[t], g);
            (, uint256 maxBps) = _band(bands, t);
            if (r > maxBps) _revert3(TierAboveMax.selector, t, r, maxBps);
        }
    }

    /// @dev Cash position i (`a` its asset) can still absorb under its cap and concentration
    /// limit (with headroom), and its current value (the top-3 bound: `_top3Cut`).
    function _room(Snap memory s, uint256 i, Asset storage a) private view returns (uint256 room, uint256 v) {
        v = s.values[i];
        uint256 p = s.prices[i];
        if (p == 0) {
            (, p) = _feedOf(a).tryPrice(); // gas-mark: Asset laid out flat
            if (p != 0 && _heldRef(s, i, a, p) != 0) p = _HELD;
            s.prices[i] = p;
        }
        // never buy what cannot be priced: a down feed, or an answer its step bound holds
        if (p == 0 || p == _HELD) return (0, v);
        // in 256 bits (the same floors as mulDiv): the concentration bps times the headroom is
        // below 2^30, so the checked product overflows (and reverts) only for a gross of 2^226
        // base units or more, which no token's supply comes near; a uint128 cap times 9,900
        // cannot overflow
        uint256 limit = s.gross * (uint256(a.maxConcentrationBps) * _HEADROOM_BPS) / (BpsLib.BPS * BpsLib.BPS);
        uint256 capLimit;
        unchecked {
            capLimit = uint256(a.cap) * _HEADROOM_BPS / BpsLib.BPS;
        }
        if (capLimit < limit) limit = capLimit;
        room = limit > v ? limit - v : 0;
    }

    /// @dev `x` cut so that position i growing by it keeps the three largest positions within
    /// the top-3 bound (with the per-asset limits' headroom), so that no pass of a deploy pours
    /// one member's share into another past it (SEC5-03: a venue at its cap made the keeper's
    /// second pass revert the whole rebalance with Top3ConcentrationExceeded). The three
    /// largest are looked for only when the bound can bind: the whole invested part plus `x`
    /// within it cannot put any three past it. Cannot overflow: as `_room`'s limit.
    function _top3Cut(Snap memory s, uint256 i, uint256 x) private view returns (uint256) {
        uint256 limit = s.gross * (uint256(_risk.maxTop3Bps) * _HEADROOM_BPS) / (BpsLib.BPS * BpsLib.BPS);
        if (s.gross - s.tierValues[0] + x <= limit) return x;
        uint256 r = ValuationLib.top3Room(s.values, i, limit);
        return r < x ? r : x;
    }

    /// @dev The one valuation pass of an external call: the vault's free cash (L1) and every
    /// position at its oracle, with the units and feed words the mark will store for it. Moves
    /// keep it current with `_update` (or, for an instant purchase, directly).
    function _snapshot() private view returns (Snap memory s) {
        s.tierValues[0] = _freeCash();
        s.tokens = _list;
        uint256 n = s.tokens.length;
        s.values = new uint256[](n);
        s.prices = new uint256[](n);
        s.units = new uint256[](n);
        s.lines = new uint256[](n);
        s.validUntil = type(uint32).max;
        for (uint256 i; i < n; ++i) {
            s.units[i] = _UNREAD; // the accounted units: the mark's, read only for a held position
            _positionValue(i, false, s);
        }
    }

    /// @dev After a move of position i: revalues it and the vault's cash, nothing else (no
    /// other position changed), so the snapshot equals a fresh one at the same prices.
    function _update(Snap memory s, uint256 i) private view {
        s.tierValues[0] = _freeCash();
        _positionValue(i, false, s);
    }

    /// @dev Position i (of tier t) now worth v; the gross follows the tiers. In assembly for the
    /// size limit: i indexes the list the snapshot was taken over (so `values`), t is an asset's
    /// tier (1 or 2), and tier t's total includes position i's old value.
    function _set(Snap memory s, uint256 i, uint8 t, uint256 v) private pure {
        assembly ("memory-safe") {
            let tv := mload(add(s, 0x20)) // s.tierValues
            let at := add(tv, shl(5, t))
            let ai := add(mload(add(s, 0x40)), shl(5, add(i, 1))) // s.values[i]
            mstore(at, add(sub(mload(at), mload(ai)), v))
            mstore(ai, v)
            mstore(s, add(add(mload(tv), mload(add(tv, 0x20))), mload(add(tv, 0x40)))) // s.gross
        }
    }

    /// @dev Position i's checked feed answer (`f` its feed), read once per call: the first
    /// read reverts as OracleLib.price does (stale, incomplete, out of bounds), and a feed
    /// answers the same for the rest of the transaction.
    /// An answer beyond position i's step bound is never traded at: PriceHeld (the snapshot
    /// marked it `_HELD`; a position it did not read is judged here).
    function _price(Snap memory s, uint256 i, OracleLib.Feed memory f) private view returns (uint256 p) {
        p = s.prices[i];
        if (p == 0 || p == _HELD) {
            p = f.price();
            address token = s.tokens[i];
            uint256 ref = _heldRef(s, i, _assets[token], p);
            if (ref != 0) _revert3(PriceHeld.selector, uint160(token), ref, p);
            s.prices[i] = p;
        }
    }

    /// @dev The reference price asset `a` (position i) is held against when its answer `p`
    /// lies beyond its step bound (PriceStepLib), else 0. Reads the bound's slot only for an
    /// asset that has one (`a.bounded`, in the slot every price read has loaded), and notes it
    /// in `s.guarded` for the mark to move the reference to the price it counts.
    /// PriceStepLib's arithmetic, written out in assembly for the size limit (the admin
    /// module's priceHold uses the library; the tests hold the two to the same answers).
    function _heldRef(Snap memory s, uint256 i, Asset storage a, uint256 p) private view returns (uint256 ref) {
        if (!a.bounded) return 0;
        assembly ("memory-safe") {
            let g := sload(add(_guards.slot, i)) // PriceGuard: stepBps, perDayBps (bit 16), at (32), price (64)
            ref := shr(64, g) // no reference yet (0: a new feed, a bound set while down): none held
            let d := sub(p, ref)
            if lt(p, ref) { d := sub(ref, p) }
            // cannot overflow: d and ref below 2^128, a uint16 times seconds since a uint32 time
            let allowed := add(and(g, 0xffff), div(mul(and(shr(16, g), 0xffff), sub(timestamp(), and(shr(32, g), 0xffffffff))), 86400))
            if iszero(gt(mul(d, 10000), mul(ref, allowed))) { ref := 0 } // within the bound
        }
        // within it: the mark that counts this answer makes it the reference (`_writeLines`)
        if (ref == 0) s.guarded |= 1 << i;
    }

    /// @dev The vault's cash not earmarked for redemptions (L1).
    function _freeCash() private view returns (uint256) {
        // free cash less what queued requests are owed, floored at 0
        return _vaultView(ITieredVault.availableCash.selector);
    }

    /// @dev The vault's uint256 view `selector` (no arguments: availableCash, pendingRedemptions)
    /// as the high-level call answers it (its revert bubbled up, an answer shorter than a word
    /// refused; see `_held`), in one shared copy for the size limit.
    function _vaultView(bytes4 selector) private view returns (uint256 r) {
        address v = address(_vault);
        assembly ("memory-safe") {
            mstore(0, selector) // left-aligned: the calldata is its first 4 bytes
            if iszero(staticcall(gas(), v, 0, 4, 0, 32)) {
                returndatacopy(0, 0, returndatasize())
                revert(0, returndatasize())
            }
            if lt(returndatasize(), 32) { revert(0, 0) }
            r := mload(0)
        }
    }

    /// @dev Position i's value at its oracle (`down`: its feed is down and it is not dust), on
    /// the units the fund accounts for (see the body): the same for users' pricing (`pricing`;
    /// `s` unused) and for the moves, so a plain transfer in changes neither. Otherwise position i of snapshot `s`
    /// is brought current: its value (and the tiers' and gross), units, checked answer (kept
    /// for the moves) and mark line, made from the very words it was priced at.
    function _positionValue(uint256 i, bool pricing, Snap memory s) private view returns (uint256 v, bool down) {
        address token = pricing ? _list[i] : s.tokens[i];
        Asset storage a = _assets[token];
        uint256 units = _held(token); // as IERC20(token).balanceOf(this) answers (one shared copy)
        // at most the units the fund accounts for: those of the last mark or move
        // (`MarkedPosition.units`), or, in a snapshot, as this call's moves left them
        // (`s.units`): an outsider's transfer in never counts (not in value, not as down, not
        // in what a move sells), a transfer out (a seizure) at once
        if (units != 0) {
            uint256 acct = pricing ? _UNREAD : s.units[i];
            if (acct == _UNREAD) acct = _marked[i].units;
            if (units > acct) units = acct;
        }
        if (!pricing) s.units[i] = units;
        uint256 line = 0; // an empty position's
        if (!a.instant) {
            uint256 pendingTokens;
            (v, pendingTokens) = a.adapter.pending(token, address(this));
            units += pendingTokens;
            // its value can change with the feed's words unchanged: always read live
            if (units != 0 || v != 0) line = _LIVE_ONLY;
        }
        uint256 p = 0; // not read
        // only a held position loads and reads its feed
        if (units != 0) {
            OracleLib.Feed memory f = _feedOf(a);
            uint256 l;
            (p, l) = _readFeed(f, a.roundsBumped, s, pricing);
            // an answer beyond the step bound (issue 54) counts as the lower of it and the
            // reference (exits at the lower value) and as down for entries and the mark
            uint256 ref = p == 0 ? 0 : _heldRef(s, i, a, p);
            if (p != 0) v += f.toBase(units, ref != 0 && ref < p ? ref : p, _baseDecimals);
            // dust (at most a millionth of a token: a donated wei) counts as zero and, feed down
            // or held or not, closes nothing: nobody can shut entries with one wei of an idle asset
            if (p == 0 || ref != 0) down = !ValuationLib.isTokenDust(units, f.tokenDecimals);
            if (ref != 0) p = _HELD; // never traded at (_price, _room, _sellValue)
            if (line == 0) line = l;
        }
        if (!pricing) {
            if (down) s.down = true;
            if (p != 0) s.prices[i] = p;
            s.lines[i] = line;
            _set(s, i, a.tier, v);
        }
    }

    /// @dev Feed `f`'s checked answer `p` (0 where OracleLib.tryPrice would fail: the call
    /// reverts or answers short, an incomplete round, stale, out of bounds) and the mark line of
    /// the five words it answered (see _LIVE_ONLY; `bumped`: vouched for as bumping its round,
    /// Asset.roundsBumped), from one latestRoundData() call. Unless `pricing`, a fresh answer's
    /// staleness time lowers `s.validUntil`: only a fresh answer can go stale while the feed's
    /// words stay the same (a stale one stays stale), so a stale feed of a dust position,
    /// counted at zero by both paths, does not send every entry and exit down the live pass.
    function _readFeed(OracleLib.Feed memory f, bool bumped, Snap memory s, bool pricing)
        private
        view
        returns (uint256 p, uint256 line)
    {
        address feed = address(f.feed);
        (bool ok, uint256 fp, uint256 round, uint256 updatedAt) = (false, 0, 0, 0);
        assembly ("memory-safe") {
            let m := mload(0x40) // scratch past the free pointer, never kept
            mstore(m, shl(224, 0xfeaf968c)) // latestRoundData()
            let called := staticcall(gas(), feed, m, 4, m, 160) // before returndatasize()
            ok := and(called, iszero(lt(returndatasize(), 160)))
            fp := shr(162, keccak256(m, 160)) // the five words' fingerprint, 94 bits
            round := mload(m)
            let answer := mload(add(m, 32))
            updatedAt := mload(add(m, 96))
            let answeredIn := mload(add(m, 128))
            // tryPrice's checks, on the words as answered (a round id wider than uint80 fails)
            if and(ok, iszero(or(or(gt(round, 0xffffffffffffffffffff), gt(answeredIn, 0xffffffffffffffffffff)), lt(answeredIn, round)))) {
                if and(iszero(lt(add(updatedAt, mload(add(f, 32))), timestamp())), sgt(answer, 0)) {
                    if iszero(or(lt(answer, mload(add(f, 128))), gt(answer, mload(add(f, 160))))) { p := answer }
                }
            }
        }
        line = _LIVE_ONLY;
        if (ok && updatedAt <= type(uint32).max) {
            // bits 254 and 255 clear: a fingerprint line
            line = uint256(uint160(feed)) | (fp << 160);
            if (bumped) {
                line = round != 0 && round <= type(uint80).max
                    ? uint256(uint160(feed)) | (round << 160) | _ROUND_LINE
                    : _LIVE_ONLY;
            }
            uint256 until = updatedAt + f.heartbeat;
            if (!pricing && until >= block.timestamp && until < s.validUntil) s.validUntil = until;
        }
    }

    function _deficit(Snap memory s, uint8 t) private view returns (uint256) {
        uint256 tv = BpsLib.share(s.gross, _targets[t]);
        return tv > s.tierValues[t] ? tv - s.tierValues[t] : 0;
    }

    function _inBands(Snap memory s) private view returns (bool) {
        uint96 bands = _hot.bands;
        for (uint256 t; t < 3; ++t) {
            if (!_inBand(bands, t, s.tierValues[t], s.gross)) return false;
        }
        return true;
    }

    /// @dev Tier t's value `v` lies inside its band of `gross` (ratio in bps, rounded down).
    function _inBand(uint96 bands, uint256 t, uint256 v, uint256 gross) private pure returns (bool) {
        (uint256 lo, uint256 hi) = _band(bands, t);
        uint256 r = BpsLib.ratio(v, gross);
        return r >= lo && r <= hi;
    }

    /// @dev After every valuation that moved or marked: the mark (kept as it was while a held
    /// feed is down), then the vault's cash band at the mark in force and whether its available
    /// cash is in it now: rebalance(false)'s no-op flag (`_hot`).
    function _storeMark(Snap memory s) private {
        _writeLines(s);
        uint256 l2 = s.tierValues[1];
        uint256 l3 = s.tierValues[2];
        uint32 at = uint32(block.timestamp);
        if (s.down) {
            // an outage decides nothing: a mark counting the down asset at zero would price
            // exits and fulfilments below the fund's worth after the feed is back
            (l2, l3, at) = (_markL2, _markL3, _markedAt);
            emit MarkKept(at);
        } else {
            (_markL2, _markL3, _markedAt) = (SafeCast.toUint112(l2), SafeCast.toUint112(l3), at);
            emit Marked(l2 + l3, at);
        }
        _hot.markedAt = at;
        // what this call sent the vault from the fund's positions, booked there: its moves'
        // and a settlement's (_SETTLED_SLOT)
        uint256 settled;
        assembly ("memory-safe") {
            settled := tload(_SETTLED_SLOT)
            if settled { tstore(_SETTLED_SLOT, 0) }
        }
        _hot.cashInBand = _vault.noteMark(l2, l3, _hot.bands, s.toVault + settled, !s.down);
        assembly ("memory-safe") {
            tstore(_MOVING_SLOT, 0) // marked: users' pricing answers again
        }
    }

    /// @dev After every mark and move: each position's value and units (`_marked`) and, unless the
    /// mark is kept through an outage, the lines `_standing` checks users' pricing against
    /// (a line carries the value the mark counted for it), all as the snapshot and the moves
    /// left them in `s`: no balance or feed is read again, except a position bought in this call
    /// that was empty at the snapshot (no feed words read for it), which is brought current.
    function _writeLines(Snap memory s) private {
        uint256 n = s.tokens.length;
        uint256[] memory lines = s.lines;
        for (uint256 i; i < n; ++i) {
            if (s.units[i] != 0 && lines[i] == 0) _positionValue(i, false, s);
            // the value, in one slot with the units: read only through a line of this mark, so
            // only when not down, when _storeMark stores its tier total as a uint112 next
            // (SafeCast) or reverts: it cannot truncate then (uint120)
            uint256 p = s.prices[i];
            uint256 v = s.values[i];
            if (s.down) {
                // a kept mark keeps a down or held position's last good value, scaled to its units
                if (p == 0 || p == _HELD) v = _lastGood(i, s.units[i]);
            } else if ((s.guarded >> i) & 1 != 0) {
                // a mark that stands moves a bounded position's reference to the price it counted
                // (at most its feed's uint128 maxAnswer: cannot truncate); a held one keeps its
                // own (its bit is clear: _heldRef)
                assembly ("memory-safe") {
                    let slot := add(_guards.slot, i) // PriceGuard: the bound kept, at and price new
                    sstore(slot, or(and(sload(slot), 0xffffffff), or(shl(32, timestamp()), shl(64, p))))
                }
            }
            _marked[i] = MarkedPosition(uint120(v), true, SafeCast.toUint128(s.units[i]));
        }
        uint256 validUntil = s.validUntil;
        address blob = _markLines.lines;
        if (!s.down && n != 0) {
            bytes32 h; // of the code the lines' contract has: STOP and the lines
            assembly ("memory-safe") {
                let w := mload(lines)
                mstore8(add(lines, 31), 0) // the length word's last byte (n < 256) as the STOP
                h := keccak256(add(lines, 31), add(mul(n, 32), 1))
                mstore(lines, w)
            }
            if (blob.codehash != h) blob = _deployLines(lines);
        }
        // cannot truncate: validUntil is capped at uint32's maximum, n at MAX_ASSETS
        _markLines = MarkLines(uint32(validUntil), s.down ? 0 : uint32(block.timestamp), uint8(n), blob);
    }

    /// @dev SSTORE2: a contract whose code is a STOP byte and the lines (never callable).
    function _deployLines(uint256[] memory lines) private returns (address blob) {
        assembly ("memory-safe") {
            let len := add(mul(mload(lines), 32), 1) // STOP + the lines
            let p := mload(0x40)
            // PUSH2 len DUP1 PUSH1 0x0c PUSH1 0 CODECOPY PUSH1 0 RETURN, then the code
            mstore(p, or(shl(248, 0x61), or(shl(232, len), shl(152, 0x80600c6000396000f300))))
            mcopy(add(p, 13), add(lines, 32), sub(len, 1))
            blob := create(0, p, add(len, 12))
        }
        if (blob == address(0)) revert LinesNotWritten();
    }

    /// @dev After a mark that raised or kept cash: the vault fulfils queued redemptions (one
    /// shared copy of the call, the EIP-170 size limit).
    function _fulfil() private {
        _vault.fulfilRedemptions(_FULFIL_BATCH);
    }

    /// @dev Emits MoveCut, from one shared copy (the EIP-170 size limit): a leg a venue cut
    /// (`_legSize`, `_investWithin`, `_redeem`), a rarely taken path.
    function _moveCut(address token, uint256 asked, uint256 done) private {
        emit MoveCut(token, asked, done);
    }

    /// @dev Emits WaterfallSkipped, from one shared copy (the EIP-170 size limit).
    function _skipped(address token, uint8 t, uint8 reason) private {
        emit WaterfallSkipped(token, t, reason);
    }

    /// @dev Reverts with the custom error `selector` of two static arguments `a` and `b` (its
    /// ABI encoding: the selector and the two words), from one shared copy: the move guards'
    /// rarely taken reverts (the EIP-170 size limit). tests/contracts/fund name each error.
    function _revert2(bytes4 selector, uint256 a, uint256 b) private pure {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, selector)
            mstore(add(p, 4), a)
            mstore(add(p, 36), b)
            revert(p, 68)
        }
    }

    /// @dev As `_revert2`, for an error of three static arguments (an address or a tier as
    /// its word).
    function _revert3(bytes4 selector, uint256 a, uint256 b, uint256 c) private pure {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, selector)
            mstore(add(p, 4), a)
            mstore(add(p, 36), b)
            mstore(add(p, 68), c)
            revert(p, 100)
        }
    }

    /// @dev A view the admin module answers (the EIP-170 size limit: its reads and encodings
    /// live there): this contract calls itself, statically, with `_VIEW_TAG` in front of the
    /// view's calldata; `fallback` takes it and delegatecalls the module, which in that static
    /// context can read this contract's storage and change nothing. Returns or reverts with
    /// the module's answer.
    function _viewFromAdmin() private view {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, _VIEW_TAG)
            calldatacopy(add(p, 4), 0, calldatasize())
            let ok := staticcall(gas(), address(), p, add(calldatasize(), 4), 0, 0)
            returndatacopy(p, 0, returndatasize())
            if iszero(ok) { revert(p, returndatasize()) }
            return(p, returndatasize())
        }
    }

    /// @dev Only `_viewFromAdmin`'s static self-call and the in-kind exit's two calls
    /// (IInKindPayer: payInKind, which the module refuses to anyone but the vault, and its
    /// view) land here (any other unknown call reverts with no data, as without a fallback): the
    /// calldata (a view's behind the tag) runs on the admin module in this contract's context.
    fallback() external {
        address m = _admin;
        assembly ("memory-safe") {
            let s := shr(224, calldataload(0))
            let off := 0
            switch s
            case 0xf65da321 {
                // _VIEW_TAG's selector: only this contract's own static self-call
                if iszero(eq(caller(), address())) { revert(0, 0) }
                off := 4
            }
            case 0x4456adae {} // IInKindPayer.payInKind(address,uint256,uint256)
            case 0x7b49b164 {} // IInKindPayer.previewPayInKind(uint256,uint256)
            default { revert(0, 0) }
            let p := mload(0x40)
            let n := sub(calldatasize(), off)
            calldatacopy(p, off, n)
            let ok := delegatecall(gas(), m, p, n, 0, 0)
            returndatacopy(p, 0, returndatasize())
            if iszero(ok) { revert(p, returndatasize()) }
            return(p, returndatasize())
        }
    }

    /// @dev Runs the calldata on the admin module in this contract's context and returns or
    /// reverts with its result. The module refuses every configuration change while a move,
    /// mark or exit of this contract is under way (AssetControllerStorage._notDuringMove).
    function _delegateToAdmin() private {
        address m = _admin;
        assembly ("memory-safe") {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), m, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) { revert(0, returndatasize()) }
            return(0, returndatasize())
        }
    }
}
