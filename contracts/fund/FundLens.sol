// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {IAssetController} from "../interfaces/IAssetController.sol";
import {IAssetAdapter} from "../interfaces/IAssetAdapter.sol";
import {ITieredVault} from "../interfaces/ITieredVault.sol";
import {IAsyncRwa} from "../interfaces/IAsyncRwa.sol";
import {IFundLens} from "../interfaces/IFundLens.sol";
import {BpsLib} from "../libraries/BpsLib.sol";
import {OracleLib} from "../libraries/OracleLib.sol";
import {ValuationLib} from "../libraries/ValuationLib.sol";
import {ReleaseLib} from "../libraries/ReleaseLib.sol";

/// @title FundLens
/// @notice See IFundLens. Stateless; any number of controllers can share one lens. Values the
/// positions with the controller's own rules (ValuationLib), from its public configuration.
contract FundLens is IFundLens {
    /// @notice The contract release this code belongs to (ASCII in a bytes32, e.g. "0.2.0"): the
    /// keepers refuse to drive contracts of a release their ABIs do not belong to.
    bytes32 public constant RELEASE = ReleaseLib.RELEASE;

    using OracleLib for OracleLib.Feed;

    /// @notice The exit horizons, in days from the reading: what the fund pays at once, within
    /// a day, a week and a month.
    function HORIZON_DAYS() external pure returns (uint16[4] memory) {
        return [uint16(0), 1, 7, 30];
    }

    /// @dev An asynchronous position on the way to cash: value at the oracle of the tokens held
    /// (`held`) and of those in redemption requests (`inFlight`), the seconds until the issuer's
    /// next window opens (`opensIn`) and its notice period (`notice`).
    struct AsyncLeg {
        uint256 held;
        uint256 inFlight;
        uint256 opensIn;
        uint256 notice;
    }

    /// @dev The budgets as the horizon reads them.
    struct Budgets {
        uint256 notional;
        uint256 notionalUsed;
        uint256 loss;
        uint256 lossUsed;
        uint256 window;
        bool moving; // the controller can move at all (not paused, budgets configured)
    }

    /// @inheritdoc IFundLens
    function exitHorizon(IAssetController c) external view returns (ExitHorizon memory h) {
        ITieredVault v = ITieredVault(c.vault());
        h.at = uint64(block.timestamp);
        if (v.withdrawalsPaused()) return h;
        h.cash = v.freeCash();
        Budgets memory b = _budgets(c);
        AsyncLeg[] memory legs = _legs(c, h);
        uint256[4] memory filed = _asyncPaid(h, legs, b);
        for (uint256 k; k < 4; ++k) {
            uint256 t = _horizonSeconds(k);
            uint256 room = _room(b.notional, b.notionalUsed, b.window, t, b.moving);
            h.lossRoom[k] = _room(b.loss, b.lossUsed, b.window, t, b.moving);
            // what the redemption requests filed by then left of the room (at least the venues'
            // part: `_asyncPaid` files only into what the venues left, see there)
            uint256 left = room - filed[k];
            if (left >= h.venuesOracle) {
                h.venuesPaid[k] = h.venues;
                h.notionalLeft[k] = left - h.venuesOracle;
            } else {
                // the budget is charged the oracle value: the venues' base coin pro rata
                h.venuesPaid[k] = Math.mulDiv(h.venues, left, h.venuesOracle);
            }
            h.total[k] = h.cash + h.venuesPaid[k] + h.asyncPaid[k];
        }
    }

    function _horizonSeconds(uint256 k) private pure returns (uint256) {
        return k == 0 ? 0 : k == 1 ? 1 days : k == 2 ? 7 days : 30 days;
    }

    /// @dev The room a budget of the controller's leaky bucket (WindowBudgetLib.Usage) offers to
    /// moves made over the next `t` seconds: what is unused now plus what drains meanwhile. No
    /// room when the controller cannot move (paused, or the budgets were never configured).
    function _room(uint256 budget, uint256 used, uint256 window, uint256 t, bool moving)
        private
        pure
        returns (uint256)
    {
        if (!moving || window == 0) return 0;
        // budget < 2^96 and t <= 30 days: no overflow
        return (budget > used ? budget - used : 0) + budget * t / window;
    }

    function _budgets(IAssetController c) private view returns (Budgets memory b) {
        IAssetController.MoveLimits memory l = c.moveLimits();
        (b.lossUsed, b.notionalUsed) = c.budgetUsage();
        (b.notional, b.loss, b.window) = (l.notionalBudget, l.lossBudget, l.window);
        b.moving = !c.paused() && l.window != 0;
    }

    /// @dev Venues and pools into `h`; the asynchronous positions returned (held and in flight
    /// valued at the oracle, the units the fund accounts for only: an outsider's transfer in is
    /// no part of what the keeper may sell).
    function _legs(IAssetController c, ExitHorizon memory h) private view returns (AsyncLeg[] memory legs) {
        address[] memory list = c.assetList();
        legs = new AsyncLeg[](list.length);
        for (uint256 i; i < list.length; ++i) {
            legs[i] = _leg(c, h, list[i]);
        }
    }

    /// @dev One position: a venue's or a pool's part into `h`, an asynchronous one returned.
    function _leg(IAssetController c, ExitHorizon memory h, address token) private view returns (AsyncLeg memory leg) {
        IAssetController.AssetParams memory p = c.assetParams(token);
        OracleLib.Feed memory f = _feed(p, token);
        (bool ok, uint256 price) = f.tryPrice();
        if (!ok) return leg; // unpriced: the keeper cannot sell it within the guards
        uint256 units = _accounted(c, token);
        uint8 bd = _decimals(c.cash());
        IAssetAdapter adapter = IAssetAdapter(p.adapter);
        if (adapter.isInstant()) {
            uint256 oracle = f.toBase(units, price, bd);
            if (_isVenue(token, c.cash())) _addVenue(h, token, address(c), units, oracle);
            else h.poolValue += oracle;
        } else {
            (, uint256 tokensInFlight) = adapter.pending(token, address(c));
            leg.held = f.toBase(units, price, bd);
            leg.inFlight = f.toBase(tokensInFlight, price, bd);
            (leg.opensIn, leg.notice) = _windowAndNotice(token);
        }
    }

    /// @dev An instant asset whose token is an ERC-4626 fund over the base coin is a venue;
    /// any other (a token traded in a pool) is not.
    function _isVenue(address token, address cash) private view returns (bool) {
        try IERC4626(token).asset() returns (address a) {
            return a == cash;
        } catch {
            return false;
        }
    }

    /// @dev A venue's part: what redeeming the fund's `units` pays now, and the budget it is
    /// charged, the oracle value of the units sold (pro rata where the venue's limit cuts the
    /// sale); counted at no more than that value.
    function _addVenue(ExitHorizon memory h, address token, address holder, uint256 units, uint256 oracle)
        private
        view
    {
        uint256 all = _venueValue(token, units);
        uint256 paid = _venuePays(token, holder, units);
        if (paid == 0 || all == 0) return;
        uint256 charged = Math.mulDiv(oracle, paid, all, Math.Rounding.Ceil);
        h.venues += paid < charged ? paid : charged;
        h.venuesOracle += charged;
    }

    /// @dev What redeeming the fund's `units` pays now, by the venue's own limit (maxRedeem,
    /// as the controller's redeemableNow cuts a sale); 0 where the venue does not answer.
    function _venuePays(address token, address holder, uint256 units) private view returns (uint256) {
        try IERC4626(token).maxRedeem(holder) returns (uint256 m) {
            if (m < units) units = m;
        } catch {
            return 0;
        }
        return _venueValue(token, units);
    }

    function _venueValue(address token, uint256 units) private view returns (uint256) {
        if (units == 0) return 0;
        try IERC4626(token).previewRedeem(units) returns (uint256 a) {
            return a;
        } catch {
            return 0;
        }
    }

    /// @dev Seconds until the issuer's next redemption window opens, and its notice period;
    /// an issuer that answers neither never pays within a horizon (type(uint128).max).
    function _windowAndNotice(address token) private view returns (uint256 opensIn, uint256 notice) {
        opensIn = type(uint128).max;
        notice = type(uint128).max;
        try IAsyncRwa(token).nextWindowOpensAt() returns (uint256 at) {
            if (at < type(uint128).max) opensIn = at > block.timestamp ? at - block.timestamp : 0;
        } catch {}
        try IAsyncRwa(token).noticePeriod() returns (uint256 n) {
            if (n < type(uint128).max) notice = n;
        } catch {}
    }

    /// @dev The asynchronous positions' part of each horizon into `h.asyncPaid`; returns what
    /// their redemption requests filed by each horizon charged the notional budget. A request
    /// in flight is charged already and pays after one notice period (it was filed at the
    /// latest now). Held tokens are requested when the issuer's window opens, for no more than
    /// the room left then after the venues (sold first: they pay at once) and the requests
    /// counted before (in list order: a request is counted against all earlier ones, filed
    /// before or after it, so never against less than what was really filed by then), and no
    /// more than one window's budget (a request is charged whole, at once).
    function _asyncPaid(ExitHorizon memory h, AsyncLeg[] memory legs, Budgets memory b)
        private
        pure
        returns (uint256[4] memory filed)
    {
        uint256 prior;
        for (uint256 i; i < legs.length; ++i) {
            AsyncLeg memory a = legs[i];
            if (a.held == 0 && a.inFlight == 0) continue;
            uint256 request;
            if (a.held != 0 && b.moving) {
                uint256 room = _room(b.notional, b.notionalUsed, b.window, a.opensIn, true);
                uint256 used = prior + (h.venuesOracle < room ? h.venuesOracle : room);
                request = room > used ? room - used : 0;
                if (request > a.held) request = a.held;
                if (request > b.notional) request = b.notional;
                prior += request;
            }
            for (uint256 k; k < 4; ++k) {
                uint256 t = _horizonSeconds(k);
                if (a.notice <= t) h.asyncPaid[k] += a.inFlight;
                if (request != 0 && a.opensIn <= t) {
                    filed[k] += request;
                    if (a.opensIn + a.notice <= t) h.asyncPaid[k] += request;
                }
            }
        }
    }

    /// @inheritdoc IFundLens
    function fundState(IAssetController c) external view returns (IAssetController.FundState memory st) {
        ITieredVault v = ITieredVault(c.vault());
        st.freeCash = v.freeCash();
        st.pendingRedemptions = v.pendingRedemptions();
        st.tierValues[0] = st.freeCash > st.pendingRedemptions ? st.freeCash - st.pendingRedemptions : 0;
        st.baseDecimals = _decimals(c.cash());
        address[] memory list = c.assetList();
        st.assets = new IAssetController.AssetState[](list.length);
        uint256[] memory values = new uint256[](list.length);
        for (uint256 i; i < list.length; ++i) {
            st.assets[i] = _asset(c, list[i], st.baseDecimals);
            values[i] = st.assets[i].value;
            st.tierValues[st.assets[i].tier] += values[i];
        }
        uint256 gross = st.tierValues[0] + st.tierValues[1] + st.tierValues[2];
        st.grossAssets = gross;
        uint256 g = st.freeCash + st.tierValues[1] + st.tierValues[2];
        st.totalAssets = g > st.pendingRedemptions ? g - st.pendingRedemptions : 0;
        for (uint8 t; t < 3; ++t) {
            st.tierRatioBps[t] = BpsLib.ratio(st.tierValues[t], gross);
            st.tiers[t] = c.tier(t);
        }
        for (uint256 i; i < list.length; ++i) {
            st.assets[i].concentrationBps = BpsLib.ratio(values[i], gross);
        }
        st.top3Bps = ValuationLib.top3Bps(values, gross);
        st.paused = c.paused();
        st.markedAt = c.markedAt();
    }

    function _feed(IAssetController.AssetParams memory p, address token) private view returns (OracleLib.Feed memory) {
        return OracleLib.Feed({
            feed: AggregatorV3Interface(p.feed),
            heartbeat: p.heartbeat,
            feedDecimals: AggregatorV3Interface(p.feed).decimals(),
            tokenDecimals: _decimals(token),
            minAnswer: p.minAnswer,
            maxAnswer: p.maxAnswer
        });
    }

    function _asset(IAssetController c, address token, uint8 baseDecimals)
        private
        view
        returns (IAssetController.AssetState memory st)
    {
        IAssetController.AssetParams memory p = c.assetParams(token);
        IAssetAdapter adapter = IAssetAdapter(p.adapter);
        OracleLib.Feed memory f = _feed(p, token);
        st.token = token;
        st.tier = p.tier;
        st.instant = adapter.isInstant();
        st.balance = _accounted(c, token);
        st.feedDecimals = f.feedDecimals;
        (uint256 pendingCash, uint256 pendingTokens) = st.instant ? (0, 0) : adapter.pending(token, address(c));
        (st.value, st.price,) = ValuationLib.positionValue(f, st.balance + pendingTokens, pendingCash, baseDecimals);
        // empty positions are not priced by the rules; keepers still want the feed's answer
        if (st.price == 0 && st.balance + pendingTokens == 0) (, st.price) = f.tryPrice();
        uint256 held = st.price == 0 ? 0 : f.toBase(st.balance, st.price, baseDecimals);
        st.pendingValue = st.value > held ? st.value - held : 0;
        uint256 redeemable = adapter.redeemableNow(token, address(c), st.balance);
        st.redeemableNowValue = st.price == 0 ? 0 : f.toBase(redeemable, st.price, baseDecimals);
        st.maxConcentrationBps = p.maxConcentrationBps;
        st.cap = p.cap;
        st.windowOpensAt = adapter.windowOpensAt(token);
    }

    /// @dev The units the controller counts (IAssetController.accountedUnits): an outsider's
    /// transfer in is no part of the fund, so neither of its value here nor of what a keeper
    /// plans to sell. A controller of a release before the view: its balance.
    function _accounted(IAssetController c, address token) private view returns (uint256 b) {
        b = IERC20(token).balanceOf(address(c));
        try c.accountedUnits(token) returns (uint256 u) {
            if (u < b) b = u;
        } catch {}
    }

    function _decimals(address token) private view returns (uint8) {
        (bool ok, bytes memory data) = token.staticcall(abi.encodeWithSignature("decimals()"));
        return ok && data.length == 32 ? abi.decode(data, (uint8)) : 18;
    }
}
