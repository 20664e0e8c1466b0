// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {IAssetController} from "../interfaces/IAssetController.sol";
import {IAssetAdapter} from "../interfaces/IAssetAdapter.sol";
import {ITieredVault} from "../interfaces/ITieredVault.sol";
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

    function _asset(IAssetController c, address token, uint8 baseDecimals)
        private
        view
        returns (IAssetController.AssetState memory st)
    {
        IAssetController.AssetParams memory p = c.assetParams(token);
        IAssetAdapter adapter = IAssetAdapter(p.adapter);
        OracleLib.Feed memory f = OracleLib.Feed({
            feed: AggregatorV3Interface(p.feed),
            heartbeat: p.heartbeat,
            feedDecimals: AggregatorV3Interface(p.feed).decimals(),
            tokenDecimals: _decimals(token),
            minAnswer: p.minAnswer,
            maxAnswer: p.maxAnswer
        });
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
