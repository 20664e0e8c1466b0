// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {ITieredVault} from "../interfaces/ITieredVault.sol";
import {IAssetController} from "../interfaces/IAssetController.sol";

/// @title TieredVault
/// @notice See ITieredVault. OpenZeppelin's ERC4626 with a decimals offset against the
/// inflation attack; valuation of the positions comes from the AssetController's oracle mark.
contract TieredVault is ITieredVault, ERC4626, AccessControl, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /* ROLES */

    bytes32 public constant ADMIN_ROLE = keccak256("ADMIN_ROLE");
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    bytes32 public constant KEEPER_ROLE = keccak256("KEEPER_ROLE");

    /// @notice Virtual shares per virtual asset, as a power of ten: makes the first-depositor
    /// (inflation) attack cost the attacker more than it can take.
    uint8 public constant DECIMALS_OFFSET = 6;

    /* STORAGE */

    address public controller;
    bool public depositsPaused;
    bool public withdrawalsPaused;
    uint128 private _pending; // owed to queued requests not funded yet
    uint128 private _claimable; // cash reserved for funded, unclaimed requests
    uint256 public nextRequestToFulfil;
    RedeemRequest[] private _requests;

    constructor(IERC20 asset_, string memory name_, string memory symbol_, address admin)
        ERC20(name_, symbol_)
        ERC4626(asset_)
    {
        if (address(asset_) == address(0)) revert ZeroAddress("asset");
        if (admin == address(0)) revert ZeroAddress("admin");
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ADMIN_ROLE, admin);
    }

    /* ERC4626 */

    /// @notice Free cash + the controller's invested value - redemptions owed but not funded.
    function totalAssets() public view override(ERC4626, IERC4626) returns (uint256) {
        uint256 gross = freeCash();
        address c = controller;
        if (c != address(0)) gross += IAssetController(c).investedValue();
        uint256 owed = _pending;
        return gross > owed ? gross - owed : 0;
    }

    function maxDeposit(address receiver) public view override(ERC4626, IERC4626) returns (uint256) {
        return depositsPaused ? 0 : super.maxDeposit(receiver);
    }

    function maxMint(address receiver) public view override(ERC4626, IERC4626) returns (uint256) {
        return depositsPaused ? 0 : super.maxMint(receiver);
    }

    /// @notice What `owner` can take at once: capped by cash not earmarked for the queue.
    function maxWithdraw(address owner) public view override(ERC4626, IERC4626) returns (uint256) {
        if (withdrawalsPaused) return 0;
        uint256 own = super.maxWithdraw(owner);
        uint256 cash = availableCash();
        return own < cash ? own : cash;
    }

    function maxRedeem(address owner) public view override(ERC4626, IERC4626) returns (uint256) {
        if (withdrawalsPaused) return 0;
        uint256 own = balanceOf(owner);
        uint256 cashShares = _convertToShares(availableCash(), _roundDown());
        return own < cashShares ? own : cashShares;
    }

    function deposit(uint256 assets, address receiver) public override(ERC4626, IERC4626) returns (uint256) {
        if (depositsPaused) revert DepositsPaused();
        return super.deposit(assets, receiver);
    }

    function mint(uint256 shares, address receiver) public override(ERC4626, IERC4626) returns (uint256) {
        if (depositsPaused) revert DepositsPaused();
        return super.mint(shares, receiver);
    }

    /// @dev One valuation pass instead of OpenZeppelin's two (maxWithdraw + preview): the cash
    /// check replaces maxWithdraw, and _burn enforces the owner's balance.
    function withdraw(uint256 assets, address receiver, address owner)
        public
        override(ERC4626, IERC4626)
        returns (uint256 shares)
    {
        if (withdrawalsPaused) revert WithdrawalsPaused();
        uint256 cash = availableCash();
        if (assets > cash) revert InsufficientCash(assets, cash);
        shares = previewWithdraw(assets);
        _withdraw(_msgSender(), receiver, owner, assets, shares);
    }

    function redeem(uint256 shares, address receiver, address owner)
        public
        override(ERC4626, IERC4626)
        returns (uint256 assets)
    {
        if (withdrawalsPaused) revert WithdrawalsPaused();
        assets = previewRedeem(shares);
        uint256 cash = availableCash();
        if (assets > cash) revert InsufficientCash(assets, cash);
        _withdraw(_msgSender(), receiver, owner, assets, shares);
    }

    function _decimalsOffset() internal pure override returns (uint8) {
        return DECIMALS_OFFSET;
    }

    /* VIEWS */

    /// @inheritdoc ITieredVault
    function pendingRedemptions() external view returns (uint256) {
        return _pending;
    }

    /// @inheritdoc ITieredVault
    function claimableRedemptions() external view returns (uint256) {
        return _claimable;
    }

    /// @inheritdoc ITieredVault
    function freeCash() public view returns (uint256) {
        uint256 bal = IERC20(asset()).balanceOf(address(this));
        uint256 reserved = _claimable;
        return bal > reserved ? bal - reserved : 0;
    }

    /// @inheritdoc ITieredVault
    function availableCash() public view returns (uint256) {
        uint256 cash = freeCash();
        uint256 owed = _pending;
        return cash > owed ? cash - owed : 0;
    }

    /// @inheritdoc ITieredVault
    function redeemRequest(uint256 id) external view returns (RedeemRequest memory) {
        if (id >= _requests.length) revert UnknownRequest(id);
        return _requests[id];
    }

    /// @inheritdoc ITieredVault
    function redeemRequestCount() external view returns (uint256) {
        return _requests.length;
    }

    /* REDEMPTION QUEUE */

    /// @inheritdoc ITieredVault
    function requestRedeem(uint256 shares, address receiver, address owner) external nonReentrant returns (uint256 id) {
        if (withdrawalsPaused) revert WithdrawalsPaused();
        if (receiver == address(0)) revert ZeroAddress("receiver");
        uint256 assets = previewRedeem(shares);
        if (shares == 0 || assets == 0) revert ZeroRedemption(shares);
        if (msg.sender != owner) _spendAllowance(owner, msg.sender, shares);
        _burn(owner, shares);
        _pending += uint128(assets);
        id = _requests.length;
        _requests.push(
            RedeemRequest({
                owner: owner,
                receiver: receiver,
                assets: uint128(assets),
                requestedAt: uint64(block.timestamp),
                status: RequestStatus.Pending
            })
        );
        emit RedeemRequested(id, owner, receiver, shares, assets);
    }

    /// @inheritdoc ITieredVault
    function fulfilRedemptions(uint256 maxCount) external nonReentrant returns (uint256 count, uint256 assets) {
        if (msg.sender != controller) _checkRole(KEEPER_ROLE);
        uint256 cash = freeCash();
        uint256 id = nextRequestToFulfil;
        uint256 end = _requests.length;
        while (id < end && count < maxCount) {
            RedeemRequest storage r = _requests[id];
            uint256 a = r.assets;
            if (a > cash) break; // strictly in order: no request overtakes an older one
            r.status = RequestStatus.Claimable;
            // cannot underflow: every pending request's assets were added to pendingRedemptions
            unchecked {
                cash -= a;
                _pending -= uint128(a);
            }
            _claimable += uint128(a);
            assets += a;
            ++count;
            ++id;
            emit RedemptionFulfilled(id - 1, a);
        }
        nextRequestToFulfil = id;
    }

    /// @inheritdoc ITieredVault
    function claimRedemption(uint256 id) external nonReentrant returns (uint256 assets) {
        if (id >= _requests.length) revert UnknownRequest(id);
        RedeemRequest storage r = _requests[id];
        if (msg.sender != r.receiver && msg.sender != r.owner) revert NotRequestParty(id, msg.sender);
        if (r.status != RequestStatus.Claimable) revert RequestNotClaimable(id, r.status);
        r.status = RequestStatus.Claimed;
        assets = r.assets;
        _claimable -= uint128(assets);
        IERC20(asset()).safeTransfer(r.receiver, assets);
        emit RedemptionClaimed(id, r.receiver, assets);
    }

    /* CONTROLLER */

    /// @inheritdoc ITieredVault
    function pullCash(address to, uint256 amount) external nonReentrant {
        if (msg.sender != controller) revert NotController(msg.sender);
        uint256 cash = availableCash();
        if (amount > cash) revert InsufficientCash(amount, cash);
        IERC20(asset()).safeTransfer(to, amount);
        emit CashPulled(to, amount);
    }

    /* ADMIN */

    /// @inheritdoc ITieredVault
    function setController(address controller_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (controller_ == address(0)) revert ZeroAddress("controller");
        if (controller != address(0)) revert ControllerAlreadySet(controller);
        controller = controller_;
        emit ControllerSet(controller_);
    }

    /// @inheritdoc ITieredVault
    function setDepositsPaused(bool paused) external {
        _checkPauser(paused);
        depositsPaused = paused;
        emit DepositsPausedSet(paused);
    }

    /// @inheritdoc ITieredVault
    function setWithdrawalsPaused(bool paused) external {
        _checkPauser(paused);
        withdrawalsPaused = paused;
        emit WithdrawalsPausedSet(paused);
    }

    /// @dev Pausing reduces risk: guardian or admin at once. Unpausing: admin only.
    function _checkPauser(bool pausing) private view {
        if (pausing && hasRole(GUARDIAN_ROLE, msg.sender)) return;
        _checkRole(ADMIN_ROLE);
    }

    function _roundDown() private pure returns (Math.Rounding) {
        return Math.Rounding.Floor;
    }

    function decimals() public view override(ERC4626, IERC20Metadata) returns (uint8) {
        return super.decimals();
    }
}
