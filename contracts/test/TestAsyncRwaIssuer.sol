// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {IAsyncRwa} from "../interfaces/IAsyncRwa.sol";

/// @notice Local stand-in for an RWA issuer's desk (test double; real issuers run their own):
/// an 18-decimal token priced by a Chainlink-style NAV feed, subscriptions and redemptions that
/// settle after `noticePeriod`, and redemption windows that open for `windowLength` seconds every
/// `windowPeriod` seconds from `windowStart`.
contract TestAsyncRwaIssuer is ERC20, IAsyncRwa {
    using SafeERC20 for IERC20Metadata;

    error RedemptionWindowClosed(uint256 nextOpensAt);
    error NotRequester(uint256 id, address caller);
    error NotClaimable(uint256 id, uint256 claimableAt);
    error ZeroAmount();

    event SubscriptionRequested(uint256 indexed id, address indexed requester, uint256 assets);
    event RedemptionRequested(uint256 indexed id, address indexed requester, uint256 shares);
    event RequestClaimed(uint256 indexed id, address indexed requester, uint256 out);

    struct Req {
        address requester;
        uint64 claimableAt;
        bool subscription;
        bool claimed;
        uint256 amount;
    }

    IERC20Metadata public immutable cash;
    AggregatorV3Interface public immutable nav;
    /// @inheritdoc IAsyncRwa
    uint256 public noticePeriod;
    uint256 public windowStart;
    uint256 public windowPeriod;
    uint256 public windowLength;
    Req[] public requests;

    constructor(
        string memory name_,
        string memory symbol_,
        IERC20Metadata cash_,
        AggregatorV3Interface nav_,
        uint256 noticePeriod_,
        uint256 windowPeriod_,
        uint256 windowLength_
    ) ERC20(name_, symbol_) {
        cash = cash_;
        nav = nav_;
        noticePeriod = noticePeriod_;
        windowStart = block.timestamp;
        windowPeriod = windowPeriod_;
        windowLength = windowLength_;
    }

    /// @notice Test hook: reschedule windows (period 0 = always open).
    function setWindows(uint256 start, uint256 period, uint256 length) external {
        (windowStart, windowPeriod, windowLength) = (start, period, length);
    }

    function setNoticePeriod(uint256 p) external {
        noticePeriod = p;
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function asset() external view returns (address) {
        return address(cash);
    }

    function requestSubscription(uint256 assets) external returns (uint256 id) {
        if (assets == 0) revert ZeroAmount();
        cash.safeTransferFrom(msg.sender, address(this), assets);
        id = _push(true, assets);
        emit SubscriptionRequested(id, msg.sender, assets);
    }

    function requestRedemption(uint256 shares) external returns (uint256 id) {
        if (shares == 0) revert ZeroAmount();
        if (!redemptionWindowOpen()) revert RedemptionWindowClosed(nextWindowOpensAt());
        _transfer(msg.sender, address(this), shares);
        id = _push(false, shares);
        emit RedemptionRequested(id, msg.sender, shares);
    }

    function claim(uint256 id) external returns (uint256 out) {
        Req storage r = requests[id];
        if (r.requester != msg.sender) revert NotRequester(id, msg.sender);
        if (r.claimed || block.timestamp < r.claimableAt) revert NotClaimable(id, r.claimableAt);
        r.claimed = true;
        (, int256 answer,,,) = nav.latestRoundData();
        uint256 scale = 10 ** (uint256(nav.decimals()) + decimals());
        uint256 cashScale = 10 ** cash.decimals();
        if (r.subscription) {
            out = Math.mulDiv(r.amount, scale, uint256(answer) * cashScale);
            _mint(msg.sender, out);
        } else {
            out = Math.mulDiv(r.amount, uint256(answer) * cashScale, scale);
            _burn(address(this), r.amount);
            cash.safeTransfer(msg.sender, out);
        }
        emit RequestClaimed(id, msg.sender, out);
    }

    function isClaimable(uint256 id) external view returns (bool) {
        Req storage r = requests[id];
        return !r.claimed && block.timestamp >= r.claimableAt;
    }

    function redemptionWindowOpen() public view returns (bool) {
        if (windowPeriod == 0) return true;
        if (block.timestamp < windowStart) return false;
        return (block.timestamp - windowStart) % windowPeriod < windowLength;
    }

    function nextWindowOpensAt() public view returns (uint256) {
        if (redemptionWindowOpen()) return block.timestamp;
        if (block.timestamp < windowStart) return windowStart;
        uint256 n = (block.timestamp - windowStart) / windowPeriod + 1;
        return windowStart + n * windowPeriod;
    }

    function requestCount() external view returns (uint256) {
        return requests.length;
    }

    function _push(bool subscription, uint256 amount) private returns (uint256 id) {
        id = requests.length;
        requests.push(
            Req({
                requester: msg.sender,
                claimableAt: uint64(block.timestamp + noticePeriod),
                subscription: subscription,
                claimed: false,
                amount: amount
            })
        );
    }
}
