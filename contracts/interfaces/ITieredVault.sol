// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";

/// @title ITieredVault
/// @notice ERC-4626 shares over the base stablecoin, with the fund's money spread over three
/// liquidity tiers. The vault holds L1 cash; the AssetController holds the L2/L3 positions.
/// totalAssets() = free cash + the controller's invested value at oracle prices - redemptions
/// still owed. Deposits land in L1. Withdrawals are served at once from L1 cash that is not
/// earmarked for the redemption queue; larger exits go through requestRedeem -> fulfil -> claim.
interface ITieredVault is IERC4626 {
    /* TYPES */

    enum RequestStatus {
        None,
        Pending,
        Claimable,
        Claimed
    }

    struct RedeemRequest {
        address owner;
        address receiver;
        uint128 assets; // fixed when requested: shares are burnt at that price
        uint64 requestedAt;
        RequestStatus status;
    }

    /* ERRORS */

    /// @notice A zero address was given for `what`.
    error ZeroAddress(string what);
    /// @notice The controller can be set only once.
    error ControllerAlreadySet(address controller);
    /// @notice Only the AssetController may call this.
    error NotController(address caller);
    /// @notice Deposits and mints are paused.
    error DepositsPaused();
    /// @notice Withdrawals, redemptions and redemption requests are paused.
    error WithdrawalsPaused();
    /// @notice Not enough free cash (cash not earmarked for the redemption queue).
    error InsufficientCash(uint256 requested, uint256 available);
    /// @notice No request with this id.
    error UnknownRequest(uint256 id);
    /// @notice The request is not claimable (still pending, or already claimed).
    error RequestNotClaimable(uint256 id, RequestStatus status);
    /// @notice Only the request's receiver or owner may claim it.
    error NotRequestParty(uint256 id, address caller);
    /// @notice Redeeming zero shares, or shares worth zero assets.
    error ZeroRedemption(uint256 shares);

    /* EVENTS */

    /// @notice The AssetController was wired in.
    event ControllerSet(address indexed controller);
    /// @notice The controller took `amount` cash out of L1 to `to`.
    event CashPulled(address indexed to, uint256 amount);
    /// @notice A redemption was queued: `shares` were burnt for `assets` owed.
    event RedeemRequested(
        uint256 indexed id, address indexed owner, address indexed receiver, uint256 shares, uint256 assets
    );
    /// @notice A queued redemption was funded and can be claimed.
    event RedemptionFulfilled(uint256 indexed id, uint256 assets);
    /// @notice A funded redemption was paid to its receiver.
    event RedemptionClaimed(uint256 indexed id, address indexed receiver, uint256 assets);
    /// @notice Deposits were paused or unpaused.
    event DepositsPausedSet(bool paused);
    /// @notice Withdrawals were paused or unpaused.
    event WithdrawalsPausedSet(bool paused);

    /* VIEWS */

    /// @notice The AssetController that manages the L2/L3 positions.
    function controller() external view returns (address);

    /// @notice Cash in the vault that is not reserved for funded claims.
    function freeCash() external view returns (uint256);

    /// @notice Assets owed to queued redemptions that are not funded yet.
    function pendingRedemptions() external view returns (uint256);

    /// @notice Cash reserved for funded, unclaimed redemptions.
    function claimableRedemptions() external view returns (uint256);

    /// @notice Cash the controller may move out of L1 now: free cash less pending redemptions.
    function availableCash() external view returns (uint256);

    /// @notice A queued redemption.
    function redeemRequest(uint256 id) external view returns (RedeemRequest memory);

    /// @notice Number of redemption requests ever made; ids are 0..count-1.
    function redeemRequestCount() external view returns (uint256);

    /// @notice Id of the oldest request not yet funded.
    function nextRequestToFulfil() external view returns (uint256);

    function depositsPaused() external view returns (bool);

    function withdrawalsPaused() external view returns (bool);

    /* REDEMPTION QUEUE */

    /// @notice Burns `shares` of `owner` now at the current price and queues the assets owed.
    /// @return id The request id.
    function requestRedeem(uint256 shares, address receiver, address owner) external returns (uint256 id);

    /// @notice Funds up to `maxCount` pending requests in order, while free cash covers each.
    /// @dev Keeper or controller.
    /// @return count Requests funded.
    /// @return assets Assets earmarked for them.
    function fulfilRedemptions(uint256 maxCount) external returns (uint256 count, uint256 assets);

    /// @notice Pays a funded request to its receiver. By the receiver or the owner.
    function claimRedemption(uint256 id) external returns (uint256 assets);

    /* CONTROLLER */

    /// @notice Sends `amount` of available cash to `to` (an adapter). Only the controller.
    function pullCash(address to, uint256 amount) external;

    /* ADMIN */

    /// @notice Wires the controller, once. Admin.
    function setController(address controller_) external;

    /// @notice Pauses deposits (guardian or admin) or unpauses them (admin).
    function setDepositsPaused(bool paused) external;

    /// @notice Pauses withdrawals (guardian or admin) or unpauses them (admin).
    function setWithdrawalsPaused(bool paused) external;
}
