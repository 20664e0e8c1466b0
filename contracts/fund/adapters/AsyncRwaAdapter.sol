// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IAssetAdapter} from "../../interfaces/IAssetAdapter.sol";
import {IAsyncRwa} from "../../interfaces/IAsyncRwa.sol";
import {ReleaseLib} from "../../libraries/ReleaseLib.sol";

/// @title AsyncRwaAdapter
/// @notice Enters and leaves an asynchronous RWA (IAsyncRwa) for its callers: invest and divest
/// file requests that the adapter holds on the caller's behalf; settle claims the due ones and
/// forwards the proceeds. While requests are open, `pending` reports what they lock so the
/// controller keeps counting it in the fund's value.
contract AsyncRwaAdapter is IAssetAdapter {
    /// @notice The contract release this code belongs to (ASCII in a bytes32, e.g. "0.2.0"): the
    /// keepers refuse to drive contracts of a release their ABIs do not belong to.
    bytes32 public constant RELEASE = ReleaseLib.RELEASE;

    using SafeERC20 for IERC20;

    /// @notice Too many open requests for one holder and token (bounds settle's loop).
    error TooManyOpenRequests(address holder, address token, uint256 max);

    /// @notice A request was filed for `holder`.
    event RequestFiled(address indexed holder, address indexed token, uint256 id, bool subscription, uint256 amount);
    /// @notice A request was claimed and its proceeds sent to `holder`.
    event RequestSettled(address indexed holder, address indexed token, uint256 id, bool subscription, uint256 out);

    uint256 public constant MAX_OPEN_REQUESTS = 16;

    struct Request {
        uint256 id;
        uint256 amount; // cash for subscriptions, tokens for redemptions
        bool subscription;
    }

    mapping(address holder => mapping(address token => Request[])) private _open;

    /// @inheritdoc IAssetAdapter
    function isInstant() external pure returns (bool) {
        return false;
    }

    /// @inheritdoc IAssetAdapter
    function invest(address token, uint256 cashIn) external returns (uint256) {
        return _subscribe(token, cashIn);
    }

    /// @inheritdoc IAssetAdapter
    /// @dev A request is priced later, whole: the same as invest (the controller never sends an
    /// asynchronous asset here; it books such moves on its notional budget instead).
    function investWithin(address token, uint256 cashIn, uint256, bool) external returns (uint256) {
        return _subscribe(token, cashIn);
    }

    /// @inheritdoc IAssetAdapter
    function divest(address token, uint256 tokenAmount) external returns (uint256) {
        return _requestRedemption(token, tokenAmount);
    }

    /// @inheritdoc IAssetAdapter
    function divestWithin(address token, uint256 tokenAmount, uint256, bool) external returns (uint256) {
        return _requestRedemption(token, tokenAmount);
    }

    function _subscribe(address token, uint256 cashIn) private returns (uint256) {
        IERC20(IAsyncRwa(token).asset()).forceApprove(token, cashIn);
        uint256 id = IAsyncRwa(token).requestSubscription(cashIn);
        _file(token, id, cashIn, true);
        return 0;
    }

    function _requestRedemption(address token, uint256 tokenAmount) private returns (uint256) {
        IERC20(token).forceApprove(token, tokenAmount);
        uint256 id = IAsyncRwa(token).requestRedemption(tokenAmount);
        _file(token, id, tokenAmount, false);
        return 0;
    }

    /// @inheritdoc IAssetAdapter
    /// @dev A subscription is one more open request: none once `holder` has MAX_OPEN_REQUESTS.
    function investableNow(address token, address holder) external view returns (uint256) {
        return _open[holder][token].length < MAX_OPEN_REQUESTS ? type(uint256).max : 0;
    }

    /// @inheritdoc IAssetAdapter
    function redeemableNow(address, address, uint256) external pure returns (uint256) {
        return 0; // nothing turns into cash within the block
    }

    /// @inheritdoc IAssetAdapter
    function pending(address token, address holder) external view returns (uint256 cash, uint256 tokens) {
        Request[] storage reqs = _open[holder][token];
        for (uint256 i; i < reqs.length; ++i) {
            if (reqs[i].subscription) cash += reqs[i].amount;
            else tokens += reqs[i].amount;
        }
    }

    /// @inheritdoc IAssetAdapter
    function settle(address token) external returns (uint256 tokensIn, uint256 cashIn) {
        Request[] storage reqs = _open[msg.sender][token];
        IERC20 cash = IERC20(IAsyncRwa(token).asset());
        uint256 i;
        while (i < reqs.length) {
            Request memory r = reqs[i];
            if (!IAsyncRwa(token).isClaimable(r.id)) {
                ++i;
                continue;
            }
            uint256 out = IAsyncRwa(token).claim(r.id);
            reqs[i] = reqs[reqs.length - 1];
            reqs.pop();
            if (r.subscription) {
                tokensIn += out;
                IERC20(token).safeTransfer(msg.sender, out);
            } else {
                cashIn += out;
                cash.safeTransfer(msg.sender, out);
            }
            emit RequestSettled(msg.sender, token, r.id, r.subscription, out);
        }
    }

    /// @inheritdoc IAssetAdapter
    function windowOpensAt(address token) external view returns (uint256) {
        return IAsyncRwa(token).nextWindowOpensAt();
    }

    /// @notice The caller-side view of `holder`'s open requests on `token`.
    function openRequests(address holder, address token) external view returns (Request[] memory) {
        return _open[holder][token];
    }

    function _file(address token, uint256 id, uint256 amount, bool subscription) private {
        Request[] storage reqs = _open[msg.sender][token];
        if (reqs.length >= MAX_OPEN_REQUESTS) revert TooManyOpenRequests(msg.sender, token, MAX_OPEN_REQUESTS);
        reqs.push(Request({id: id, amount: amount, subscription: subscription}));
        emit RequestFiled(msg.sender, token, id, subscription, amount);
    }
}
