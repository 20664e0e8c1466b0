// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IAssetAdapter} from "../interfaces/IAssetAdapter.sol";
import {ITieredVault} from "../interfaces/ITieredVault.sol";
import {BpsLib} from "../libraries/BpsLib.sol";
import {OracleLib} from "../libraries/OracleLib.sol";
import {ValuationLib} from "../libraries/ValuationLib.sol";
import {PriceStepLib} from "../libraries/PriceStepLib.sol";
import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {WindowBudgetLib} from "../libraries/WindowBudgetLib.sol";
import {AssetControllerStorage} from "./AssetControllerStorage.sol";
import {ReleaseLib} from "../libraries/ReleaseLib.sol";

/// @title AssetControllerAdmin
/// @notice The AssetController's configuration functions (IAssetController's CONFIGURATION
/// section). Deployed for one vault before its controller, which is given it at construction
/// and delegatecalls it for those selectors, so they run on the controller's storage with the
/// caller's roles there.
/// @dev Called directly, the module acts on its own empty storage, where nobody holds a role:
/// every function reverts or changes nothing that matters.
/// @dev The controller's mark(), called by the module's settle on the controller itself.
interface IMarkable {
    function mark() external returns (uint256);
}

contract AssetControllerAdmin is AssetControllerStorage {
    /// @notice The contract release this code belongs to (ASCII in a bytes32, e.g. "0.2.0"): the
    /// keepers refuse to drive contracts of a release their ABIs do not belong to.
    bytes32 public constant RELEASE = ReleaseLib.RELEASE;

    using OracleLib for OracleLib.Feed;

    constructor(ITieredVault vault_) AssetControllerStorage(vault_) {}

    /// @dev Every `onlyRole` writer here (setTiers, addAsset, the feeds, role grants) refused
    /// while a move is under way, as `_authorize`'s are (`_notDuringMove`).
    function _checkRole(bytes32 role) internal view override {
        _notDuringMove();
        super._checkRole(role);
    }

    /// @notice The vault this module was made for (its immutables): the controller's constructor
    /// refuses a module of another vault. Answered by the module itself, never through the
    /// controller.
    function moduleVault() external view returns (address) {
        return address(_vault);
    }

    /* VIEWS (reached by the controller's static self-call, see AssetController._viewFromAdmin) */

    /// @dev See IAssetController.
    function fallbackFeed(address token) external view returns (address) {
        return address(_fallbackFeeds[token].feed);
    }

    /// @dev See IAssetController.
    function tier(uint8 t) external view returns (TierConfig memory) {
        if (t > 2) revert InvalidTier(t);
        return _tier(t);
    }

    /// @dev See IAssetController.
    function assetParams(address token) external view returns (AssetParams memory p) {
        Asset storage a = _requireAsset(token);
        p = AssetParams({
            token: token,
            tier: a.tier,
            adapter: address(a.adapter),
            feed: address(a.feed),
            heartbeat: a.heartbeat,
            minAnswer: a.minAnswer,
            maxAnswer: a.maxAnswer,
            cap: a.cap,
            maxConcentrationBps: a.maxConcentrationBps
        });
    }

    /// @dev See IAssetController.
    function assetList() external view returns (address[] memory) {
        return _list;
    }

    /// @dev See IAssetController.
    function defaultAsset(uint8 t) external view returns (address) {
        if (t > 2) revert InvalidTier(t);
        return _default[t];
    }

    /// @dev See IAssetController.
    function riskParams() external view returns (RiskParams memory) {
        return _riskParams();
    }

    /// @dev See IAssetController.
    function moveLimits() external view returns (MoveLimits memory) {
        return _limits;
    }

    /// @dev See IAssetController.
    function sequencerFeed() external view returns (address, uint32) {
        return (_sequencer, _sequencerGrace);
    }

    /// @dev See IAssetController.
    function budgetUsage() external view returns (uint256 lossUsed, uint256 notionalUsed) {
        MoveLimits memory l = _limits;
        if (l.window == 0) return (0, 0);
        return WindowBudgetLib.current(_usage, l.lossBudget, l.notionalBudget, l.window);
    }

    /// @dev See IAssetController.
    function vault() external view returns (address) {
        return address(_vault);
    }

    /// @dev See IAssetController.
    function cash() external view returns (address) {
        return address(_cash);
    }

    /// @dev See IAssetController.
    function dustValue() external view returns (uint256) {
        return _dustValue;
    }

    /// @dev See IAssetController.
    function markedAt() external view returns (uint64) {
        return _markedAt;
    }

    /// @dev See IAssetController.
    function paused() external view returns (bool) {
        return _hot.paused;
    }

    /// @dev See IAssetController.
    function cashInBand() external view returns (bool) {
        return _hot.cashInBand;
    }

    /// @dev See IAssetController.
    function markedValues() external view returns (uint256 l2, uint256 l3) {
        return (_markL2, _markL3);
    }

    /// @dev See IAssetController.
    function roundsBumped(address token) external view returns (bool) {
        return _requireAsset(token).roundsBumped;
    }

    /// @dev See IAssetController.
    function valueOf(address token, uint256 amount) external view returns (uint256) {
        OracleLib.Feed memory f = _feedOf(_requireAsset(token));
        return f.toBase(amount, f.price(), _baseDecimals);
    }

    /// @dev See IInKindPayer.
    function previewPayInKind(uint256 shares, uint256 supply)
        external
        view
        returns (address[] memory tokens, uint256[] memory amounts)
    {
        return _inKind(shares, supply);
    }

    /* IN-KIND EXIT */

    /// @dev See IInKindPayer. Reached by the controller's fallback (a delegatecall): `msg.sender` is the
    /// vault's call to the controller. No pause check: the exit needs nobody and no price.
    function payInKind(address receiver, uint256 shares, uint256 supply)
        external
        nonReentrant
        returns (address[] memory tokens, uint256[] memory amounts)
    {
        if (msg.sender != address(_vault)) revert NotVault(msg.sender);
        assembly ("memory-safe") {
            // mid-move the accounted units are the snapshot's, not yet stored: refused
            if tload(_MOVING_SLOT) {
                mstore(0, 0x20523ba0) // MovesUnderWay()
                revert(28, 4)
            }
            // and users' pricing refuses while the tokens go out (a hook in a token cannot
            // price anything half paid)
            tstore(_MOVING_SLOT, 1)
        }
        (tokens, amounts) = _inKind(shares, supply);
        // its lines priced the old units, so users are priced live until the next mark (the
        // vault takes one right after the exit; both paths give the same then), and the cash
        // band was solved at the old mark
        _markLines.at = 0;
        _hot.cashInBand = false;
        (uint256 m2, uint256 m3) = (0, 0); // what the mark counted for the units paid, per tier
        uint256 n = tokens.length;
        for (uint256 i; i < n; ++i) {
            uint256 u = amounts[i];
            if (u == 0) continue;
            if (_tryPay(tokens[i], receiver, u)) {
                // the mark falls by what it counted for the units paid, rounded down: at most
                // the paid part of each position (u is its units' part, rounded down), so per
                // share left it never falls; a skipped token's value stays in it (SEC5-02: the
                // vault lifts the high-water mark by what the exit left, read at the mark while
                // pricing is unavailable)
                MarkedPosition storage mp = _marked[i];
                Asset storage a = _assets[tokens[i]];
                uint256 units = mp.units; // at least u (a uint128): _inKind
                uint256 value = a.instant ? mp.value : _unitsValue(a, tokens[i], mp.value, units);
                uint256 part = Math.mulDiv(value, u, units);
                (mp.value, mp.units) = (uint120(mp.value - part), uint128(units - u));
                if (a.tier == 1) m2 += part;
                else m3 += part;
                emit PaidInKind(tokens[i], receiver, u);
            } else {
                // a paused token or a refused receiver traps nothing else: left to the fund
                amounts[i] = 0;
                emit InKindSkipped(tokens[i], receiver, u);
            }
        }
        // each tier's mark falls by that, and never by more than its part rounded down (a
        // position's stored value can be newer than a mark kept through an outage): per share
        // left the mark never falls
        (_markL2, _markL3) = (_lessAtMost(_markL2, m2, shares, supply), _lessAtMost(_markL3, m3, shares, supply));
        assembly ("memory-safe") {
            tstore(_MOVING_SLOT, 0)
        }
    }

    /// @dev What the mark's `value` of asynchronous position `a` (`token`) of `units` counted
    /// for those units alone (an instant position's is all of it). Its mark also counts its
    /// pending requests (subscription cash, and tokens in redemption at the units' price:
    /// AssetController._positionValue), which the
    /// in-kind exit cannot transfer: their value stays with the holders left, so the mark must
    /// not fall by the paid units' share of it (it did: in an outage, with the exit's own mark
    /// refused, the high-water mark was then lifted by less than the exit left behind, and the
    /// first mark after the outage charged a performance fee on the exiter's part of the
    /// pending value). At most `value`; an adapter whose `pending` reverts: `value` (as before).
    function _unitsValue(Asset storage a, address token, uint256 value, uint256 units)
        private
        view
        returns (uint256)
    {
        try a.adapter.pending(token, address(this)) returns (uint256 cashPending, uint256 tokensPending) {
            if (cashPending >= value) return 0;
            // the units' part of what is left: the mark priced held and pending tokens alike
            return Math.mulDiv(value - cashPending, units, units + tokensPending);
        } catch {
            return value;
        }
    }

    /// @dev `v` less `paid`, and less at most `shares / supply` of it rounded down (shares <= supply).
    function _lessAtMost(uint112 v, uint256 paid, uint256 shares, uint256 supply) private pure returns (uint112) {
        uint256 part = Math.mulDiv(v, shares, supply);
        return uint112(v - (paid < part ? paid : part)); // cannot truncate: at most v
    }

    /// @dev Gas one in-kind transfer may use: a token that burns all it is given (instead of
    /// reverting) is skipped with the rest of the exit paid, not the whole exit blocked.
    uint256 private constant _IN_KIND_TRANSFER_GAS = 500_000;

    /// @dev SafeERC20.trySafeTransfer with its gas bounded (_IN_KIND_TRANSFER_GAS) and none of
    /// the answer copied past its first word. A transfer that failed for want of gas the
    /// caller withheld (less than the bound was left to give it) reverts the exit: nobody can
    /// make a holder's token skipped by sending the exit short of gas.
    function _tryPay(address token, address to, uint256 value) private returns (bool ok) {
        uint256 g = gasleft();
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, shl(224, 0xa9059cbb)) // transfer(address,uint256)
            mstore(add(p, 4), to)
            mstore(add(p, 36), value)
            mstore(0, 0)
            ok := call(_IN_KIND_TRANSFER_GAS, token, 0, p, 68, 0, 32)
            // as SafeERC20: true, or no answer from a contract
            switch returndatasize()
            case 0 { ok := and(ok, gt(extcodesize(token), 0)) }
            default { ok := and(ok, and(gt(returndatasize(), 31), eq(mload(0), 1))) }
        }
        if (!ok && g < _IN_KIND_TRANSFER_GAS + 10_000) revert InKindTransferStarved(token);
    }

    /// @dev Per listed token, `shares / supply` of the units the fund accounts for (at most its
    /// balance: a seizure counts at once, an outsider's transfer in never), rounded down.
    function _inKind(uint256 shares, uint256 supply)
        private
        view
        returns (address[] memory tokens, uint256[] memory amounts)
    {
        tokens = _list;
        uint256 n = tokens.length;
        amounts = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            // a token whose balanceOf reverts is paid nothing: it traps nothing else either
            try IERC20(tokens[i]).balanceOf(address(this)) returns (uint256 units) {
                uint256 acct = _marked[i].units;
                if (units > acct) units = acct;
                if (units != 0) amounts[i] = Math.mulDiv(units, shares, supply);
            } catch {}
        }
    }

    /// @dev See IAssetController: as AssetController._positionValue counts a position's units.
    function accountedUnits(address token) external view returns (uint256 units) {
        _requireAsset(token);
        units = IERC20(token).balanceOf(address(this));
        uint256 acct = _marked[_indexOf(token)].units;
        if (units > acct) units = acct;
    }

    /// @dev See IAssetController: as AssetController._heldRef judges a price read (bounded,
    /// a reference, the feed answering), by PriceStepLib.
    function priceHold(address token)
        external
        view
        returns (
            bool held,
            uint256 referencePrice,
            uint256 answer,
            uint256 moveBps,
            uint256 allowedBps,
            uint16 stepBps,
            uint16 perDayBps,
            uint64 referenceAt
        )
    {
        Asset storage a = _requireAsset(token);
        PriceGuard memory g = _guards[_indexOf(token)];
        (, answer) = _feedOf(a).tryPrice();
        (referencePrice, stepBps, perDayBps, referenceAt) = (g.price, g.stepBps, g.perDayBps, g.at);
        allowedBps = PriceStepLib.allowedBps(stepBps, perDayBps, block.timestamp - referenceAt);
        moveBps = PriceStepLib.moveBps(referencePrice, answer);
        held = a.bounded && referencePrice != 0 && answer != 0 && PriceStepLib.beyond(referencePrice, answer, allowedBps);
    }

    /* SETTLEMENT */

    /// @dev See IAssetController. Moved here from the controller (the EIP-170 size limit):
    /// the adapter's settlement under the controller's lock and its move flag (users' pricing
    /// refuses until the mark), the tokens that arrive accounted from here on, then the mark as
    /// mark() takes it (a call to the controller itself, once the lock is released). While a
    /// held asset's feed is down mark() refuses: the mark is kept as it was, its lines dropped
    /// (users are priced live, counting the settled tokens, until the next mark), as the
    /// controller's own mark kept through an outage does, and the settlement's cash is handed
    /// to the vault's fee book as that kept mark would (noteMark, `valued` false: no accrual).
    /// Before, it stayed in the transient slot, which the transaction's end cleared, and the
    /// first mark after the outage took it for a donation: the high-water mark rose by it, and
    /// that much of the fund's next gains was never charged.
    function settle(address token) external returns (uint256 tokensIn, uint256 cashIn) {
        (tokensIn, cashIn) = _settle(token);
        try IMarkable(address(this)).mark() {}
        catch {
            _markLines.at = 0;
            uint256 settled;
            assembly ("memory-safe") {
                tstore(_MOVING_SLOT, 0)
                settled := tload(_SETTLED_SLOT)
                tstore(_SETTLED_SLOT, 0)
            }
            _hot.cashInBand = false;
            if (settled != 0) _vault.noteMark(_markL2, _markL3, _hot.bands, settled, false);
            emit MarkKept(_markedAt);
        }
        emit Settled(token, tokensIn, cashIn);
    }

    function _settle(address token) private nonReentrant returns (uint256 tokensIn, uint256 cashIn) {
        Asset storage a = _requireAsset(token);
        uint256 i = _indexOf(token);
        assembly ("memory-safe") {
            tstore(_MOVING_SLOT, 1) // from here to the mark users' pricing refuses (MovesUnderWay)
        }
        (tokensIn, cashIn) = a.adapter.settle(token);
        if (cashIn != 0) {
            SafeERC20.safeTransfer(_cash, address(_vault), cashIn);
            assembly ("memory-safe") {
                // the mark below books it as the fund's own cash (cannot overflow: two token
                // amounts, each at most the token's supply)
                tstore(_SETTLED_SLOT, add(tload(_SETTLED_SLOT), cashIn))
            }
        }
        // a subscription's tokens are the fund's own: accounted from here on (checked: a
        // token count past uint128 is refused, as the mark's SafeCast would)
        if (tokensIn != 0) _marked[i].units += SafeCast.toUint128(tokensIn);
    }

    /* CONFIGURATION */

    /// @dev See IAssetController. Loosening (a bound higher in either term, or none where there
    /// was one) adds risk: the timelock; tightening (a bound where there was none, or lower in
    /// both) is at once. A bound turned on starts from the feed's answer now (0 while it is
    /// down: the next price read that a mark counts becomes the reference).
    function setPriceStepBound(address token, uint16 stepBps, uint16 perDayBps) external {
        Asset storage a = _requireAsset(token);
        PriceGuard storage g = _guards[_indexOf(token)];
        bool on = (stepBps | perDayBps) != 0;
        _authorize(a.bounded && (!on || stepBps > g.stepBps || perDayBps > g.perDayBps), "setPriceStepBound");
        if (!on) {
            (g.stepBps, g.perDayBps, g.at, g.price) = (0, 0, 0, 0);
        } else {
            if (!a.bounded) {
                (, uint256 p) = _feedOf(a).tryPrice(); // fresh and within the feed's bounds, or 0
                (g.price, g.at) = (uint128(p), uint32(block.timestamp)); // p at most maxAnswer: fits
            }
            (g.stepBps, g.perDayBps) = (stepBps, perDayBps);
        }
        a.bounded = on;
        emit PriceStepBoundSet(token, stepBps, perDayBps, g.price);
    }

    /// @dev See IAssetController: the guardian or the timelock (DEFAULT_ADMIN_ROLE).
    function acceptPrice(address token) external {
        _notDuringMove();
        if (!hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) _checkRole(GUARDIAN_ROLE);
        Asset storage a = _requireAsset(token);
        // an asset with no step bound holds nothing: a reference written for it would say a
        // price was confirmed that no bound ever judged (and a bound turned on later starts
        // from the feed's answer anyway)
        if (!a.bounded) revert InvalidParameter("priceStepBound", 0);
        uint256 p = _feedOf(a).price(); // reverts while the feed is down
        PriceGuard storage g = _guards[_indexOf(token)];
        uint256 old = g.price;
        (g.price, g.at) = (uint128(p), uint32(block.timestamp)); // p at most maxAnswer: fits
        emit PriceAccepted(token, old, p);
    }

    /// @dev See IAssetController: vouching adds risk (timelock), withdrawing it reduces it.
    function setRoundsBumped(address token, bool bumped) external {
        _authorize(bumped, "setRoundsBumped");
        _requireAsset(token).roundsBumped = bumped;
        _markLines.at = 0; // the lines were written under the other rule: priced live until the next mark
        emit RoundsBumpedSet(token, bumped);
    }

    /// @dev See IAssetController: the guardian, the admin or the timelock pauses at once.
    function pause() external {
        _authorize(false, "pause");
        _pause();
    }

    /// @dev See IAssetController: the admin or the timelock unpauses.
    function unpause() external {
        _notDuringMove();
        if (!hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) _checkRole(ADMIN_ROLE);
        _unpause();
    }

    /// @dev See IAssetController.
    function setTiers(TierConfig[3] calldata tiers_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setTiers(tiers_);
    }

    /// @dev See IAssetController.
    function addAsset(AssetParams calldata p) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (p.token == address(0)) revert ZeroAddress("token");
        if (p.adapter == address(0)) revert ZeroAddress("adapter");
        if (p.feed == address(0)) revert ZeroAddress("feed");
        _requireInvestedTier(p.tier);
        if (address(_assets[p.token].adapter) != address(0)) revert AssetAlreadyRegistered(p.token);
        if (_list.length >= MAX_ASSETS) revert TooManyAssets(MAX_ASSETS);
        if (p.maxConcentrationBps > BpsLib.BPS) revert InvalidParameter("maxConcentrationBps", p.maxConcentrationBps);
        Asset storage a = _assets[p.token];
        a.tier = p.tier;
        a.instant = IAssetAdapter(p.adapter).isInstant();
        a.maxConcentrationBps = p.maxConcentrationBps;
        a.adapter = IAssetAdapter(p.adapter);
        a.cap = p.cap;
        a.tokenDecimals = IERC20Metadata(p.token).decimals();
        _writeFeed(a, p.token, p.feed, p.heartbeat, p.minAnswer, p.maxAnswer);
        _marked[_list.length].listed = true; // see MarkedPosition
        _list.push(p.token);
        if (_default[p.tier] == address(0)) {
            _default[p.tier] = p.token;
            emit DefaultAssetSet(p.tier, p.token);
        }
        emit AssetAdded(p.token, p.tier, p.adapter, p.feed);
        emit AssetLimitsSet(p.token, p.cap, p.maxConcentrationBps);
    }

    /// @dev See IAssetController.
    function removeAsset(address token) external {
        _authorize(false, "removeAsset");
        Asset storage a = _requireAsset(token);
        (uint256 pc, uint256 pt) = a.adapter.pending(token, address(this));
        // Valued at the feed's upper sanity bound, so it needs no live price: a position that
        // is dust even at the highest sane price is written off (left where it is, unvalued).
        // A position of at most a millionth of a token is dust whatever its price (a donated
        // wei of an 18-decimal token is 10,000 base tokens at a 1e30 bound).
        // Only the units the fund accounts for (those of its last mark or move, as users'
        // pricing counts them): an outsider's transfer in never keeps an asset listed.
        uint256 n = _list.length;
        uint256 i = _indexOf(token);
        uint256 units = IERC20(token).balanceOf(address(this));
        uint256 acct = _marked[i].units;
        units = (units < acct ? units : acct) + pt;
        OracleLib.Feed memory f = _feedOf(a);
        uint256 worst = pc + f.toBase(units, f.maxAnswer, _baseDecimals);
        if (worst > _dustValue && !(pc == 0 && ValuationLib.isTokenDust(units, f.tokenDecimals))) {
            revert AssetNotEmpty(token, worst);
        }
        uint8 t = a.tier;
        // what the mark counted moves with the last asset into the freed index
        (_list[i], _marked[i], _guards[i]) = (_list[n - 1], _marked[n - 1], _guards[n - 1]);
        _list.pop();
        delete _marked[n - 1];
        delete _guards[n - 1];
        delete _assets[token];
        _markLines.at = 0; // the list moved under the mark's lines: priced live until the next mark
        if (_default[t] == token) {
            _default[t] = address(0);
            for (uint256 j; j < _list.length; ++j) {
                if (_assets[_list[j]].tier == t) {
                    _default[t] = _list[j];
                    break;
                }
            }
            emit DefaultAssetSet(t, _default[t]);
        }
        emit AssetRemoved(token);
    }

    /// @dev See IAssetController.
    function setDefaultAsset(uint8 t, address token) external {
        _authorize(false, "setDefaultAsset");
        _requireInvestedTier(t);
        if (_requireAsset(token).tier != t) revert AssetNotInTier(token, t);
        _default[t] = token;
        emit DefaultAssetSet(t, token);
    }

    /// @dev See IAssetController.
    function setAssetLimits(address token, uint128 cap, uint16 maxConcentrationBps) external {
        Asset storage a = _requireAsset(token);
        if (maxConcentrationBps > BpsLib.BPS) revert InvalidParameter("maxConcentrationBps", maxConcentrationBps);
        _authorize(cap > a.cap || maxConcentrationBps > a.maxConcentrationBps, "setAssetLimits");
        a.cap = cap;
        a.maxConcentrationBps = maxConcentrationBps;
        emit AssetLimitsSet(token, cap, maxConcentrationBps);
    }

    /// @dev See IAssetController.
    function setFeed(address token, address feed, uint32 heartbeat, uint128 minAnswer, uint128 maxAnswer)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        if (feed == address(0)) revert ZeroAddress("feed");
        Asset storage a = _requireAsset(token);
        _writeFeed(a, token, feed, heartbeat, minAnswer, maxAnswer);
        // a new feed (its decimals may differ): its first answer a mark counts becomes the
        // reference (an asset with no bound has an empty PriceGuard)
        if (a.bounded) _guards[_indexOf(token)].price = 0;
    }

    /// @dev See IAssetController.
    function setRiskParams(RiskParams calldata p) external {
        RiskParams memory o = _riskParams();
        bool increases = p.maxSlippageBps > o.maxSlippageBps || p.maxValueLossBps > o.maxValueLossBps
            || p.maxTop3Bps > o.maxTop3Bps || p.navMaxAge > o.navMaxAge
        // either way adds risk: higher lets the fund drift further from target and leaves more
        // cash unallocated; lower lets a keeper churn the pools with dust-sized moves
        || p.minMoveValue != o.minMoveValue;
        _authorize(increases, "setRiskParams");
        _setRisk(p);
    }

    /// @dev See IAssetController.
    function setMoveLimits(MoveLimits calldata l) external {
        MoveLimits memory o = _limits;
        bool increases = l.lossBudget > o.lossBudget || l.notionalBudget > o.notionalBudget
            || l.internalSlippageBps > o.internalSlippageBps || l.window < o.window;
        _authorize(increases, "setMoveLimits");
        if (l.window < 1 hours || l.window > 30 days) revert InvalidParameter("window", l.window);
        if (l.internalSlippageBps > MAX_SLIPPAGE_LIMIT) {
            revert InvalidParameter("internalSlippageBps", l.internalSlippageBps);
        }
        _limits = l;
        emit MoveLimitsSet(l);
    }

    /// @dev See IAssetController.
    function setSequencerFeed(address feed, uint32 gracePeriod) external {
        address old = _sequencer;
        bool reduces = (old == address(0) && feed != address(0))
            || (feed == old && feed != address(0) && gracePeriod >= _sequencerGrace);
        _authorize(!reduces, "setSequencerFeed");
        _sequencer = feed;
        _sequencerGrace = gracePeriod;
        _hot.sequencerOn = feed != address(0);
        emit SequencerFeedSet(feed, gracePeriod);
    }

    /// @dev See IAssetController.
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
            fb.tokenDecimals = a.tokenDecimals;
            fb.minAnswer = minAnswer;
            fb.maxAnswer = maxAnswer;
        }
        emit FallbackFeedSet(token, feed, heartbeat, minAnswer, maxAnswer);
    }

    /// @dev See IAssetController.
    function useFallbackFeed(address token) external {
        _authorize(false, "useFallbackFeed");
        Asset storage a = _requireAsset(token);
        OracleLib.Feed memory fb = _fallbackFeeds[token];
        if (address(fb.feed) == address(0)) revert NoFallbackFeed(token);
        uint256 scale = a.feedDecimals;
        _storeFeed(a, fb);
        // a valuation hold goes on under the fallback: the reference is kept (in the new
        // feed's decimals), never cleared here, so nobody but the guardian or the timelock
        // (acceptPrice; setFeed and addAsset are the timelock's) ends a hold: the admin
        // switching to an approved fallback that answers the held step let the next mark take
        // it and mint a performance fee on it (the team's own review of issue 54)
        if (a.bounded) {
            PriceGuard storage g = _guards[_indexOf(token)];
            uint256 ref = Math.mulDiv(g.price, OracleLib.pow10(fb.feedDecimals), OracleLib.pow10(scale));
            g.price = ref > type(uint128).max ? type(uint128).max : uint128(ref);
        }
        delete _fallbackFeeds[token];
        emit FeedSet(token, address(fb.feed), fb.heartbeat, fb.minAnswer, fb.maxAnswer);
    }

    /// @dev See IAssetController.
    function setDustValue(uint128 value) external {
        _authorize(value > _dustValue, "setDustValue");
        _dustValue = value;
        emit DustValueSet(value);
    }
}
