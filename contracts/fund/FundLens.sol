// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {IAssetController} from "../interfaces/IAssetController.sol";
import {IAssetAdapter} from "../interfaces/IAssetAdapter.sol";
import {ITieredVault} from "../interfaces/ITieredVault.sol";
import {IFundLens} from "../interfaces/IFundLens.sol";
import {BpsLib} from "../libraries/BpsLib.sol";

/// @title FundLens
/// @notice See IFundLens. Stateless; any number of controllers can share one lens.
contract FundLens is IFundLens {
    /// @inheritdoc IFundLens
    function fundState(IAssetController c) external view returns (IAssetController.FundState memory st) {
        (uint256 gross, uint256[3] memory tierValues, uint256[] memory values, uint256[] memory prices) = c.valuation();
        ITieredVault v = ITieredVault(c.vault());
        st.freeCash = v.freeCash();
        st.pendingRedemptions = v.pendingRedemptions();
        st.grossAssets = gross;
        uint256 g = st.freeCash + tierValues[1] + tierValues[2];
        st.totalAssets = g > st.pendingRedemptions ? g - st.pendingRedemptions : 0;
        st.tierValues = tierValues;
        for (uint8 t; t < 3; ++t) {
            st.tierRatioBps[t] = BpsLib.ratio(tierValues[t], gross);
            st.tiers[t] = c.tier(t);
        }
        address[] memory list = c.assetList();
        st.assets = new IAssetController.AssetState[](list.length);
        (uint256 a, uint256 b, uint256 d) = (0, 0, 0);
        for (uint256 i; i < list.length; ++i) {
            st.assets[i] = _asset(c, list[i], values[i], prices[i], gross);
            uint256 x = values[i];
            if (x > a) (a, b, d) = (x, a, b);
            else if (x > b) (b, d) = (x, b);
            else if (x > d) d = x;
        }
        st.top3Bps = BpsLib.ratio(a + b + d, gross);
        st.paused = Pausable(address(c)).paused();
        st.markedAt = c.markedAt();
        st.baseDecimals = _decimals(c.cash());
    }

    function _asset(IAssetController c, address token, uint256 value, uint256 price, uint256 gross)
        private
        view
        returns (IAssetController.AssetState memory st)
    {
        IAssetController.AssetParams memory p = c.assetParams(token);
        IAssetAdapter adapter = IAssetAdapter(p.adapter);
        st.token = token;
        st.tier = p.tier;
        st.instant = adapter.isInstant();
        st.balance = IERC20(token).balanceOf(address(c));
        st.price = price;
        st.feedDecimals = AggregatorV3Interface(p.feed).decimals();
        st.value = value;
        uint256 held = c.valueOf(token, st.balance);
        st.pendingValue = value > held ? value - held : 0;
        st.redeemableNowValue = c.valueOf(token, adapter.redeemableNow(token, address(c), st.balance));
        st.concentrationBps = BpsLib.ratio(value, gross);
        st.maxConcentrationBps = p.maxConcentrationBps;
        st.cap = p.cap;
        st.windowOpensAt = adapter.windowOpensAt(token);
    }

    function _decimals(address token) private view returns (uint8) {
        (bool ok, bytes memory data) = token.staticcall(abi.encodeWithSignature("decimals()"));
        return ok && data.length == 32 ? abi.decode(data, (uint8)) : 18;
    }
}
