// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";

/// @title ITieredVault
/// @notice ERC-4626 shares over the base stablecoin, with the fund's money spread over three
/// liquidity tiers. The vault holds L1 cash; the AssetController holds the L2/L3 positions.
/// Pricing never favours the user against the live valuation: entries (deposit, mint) are
/// priced at the higher of the stored mark and the live oracle value, exits (withdraw, redeem,
/// queued redemptions) at the lower (see IAssetController.pricingValues). totalAssets() = free
/// cash + invested value at the exit price. Deposits land in L1. Withdrawals are served at once
/// from L1 cash not earmarked for the queue; larger exits go through the vault's own redemption
/// queue, shaped like ERC-7540's request side but not an ERC-7540 vault: requestRedeem locks
/// the shares in the vault, fulfilRedemptions prices them at the lower of the request-time and
/// fulfilment-time exit prices and burns them, claimRedemption pays (or cancelRedeem takes the
/// request back). Claims are not ERC-7540's redeem/withdraw: those stay synchronous ERC-4626
/// exits from L1, so ERC-165 answers ERC-7540's operator interface (setOperator, isOperator:
/// implemented as the EIP defines them) and not its async-redeem or ERC-7575 ids.
interface ITieredVault is IERC4626 {
    /* TYPES */

    enum RequestStatus {
        None,
        Pending,
        Claimable,
        Claimed,
        Cancelled
    }

    /// @notice The wind-down's phase (issue 67; Lagoon v0.6.0's states): Open; Closing (set by
    /// the timelock: no entries, no cash out to the controller, so the keeper can only sell);
    /// Closed (set by anyone once the controller holds nothing of value: the price per share
    /// is fixed, every exit pays it, no fee accrues). Never goes back.
    enum Phase {
        Open,
        Closing,
        Closed
    }

    struct Redemption {
        address controller; // ERC-7540 controller: claims (itself or through an operator)
        address owner; // whose shares were locked
        uint128 shares; // locked in the vault until fulfilment, burnt then
        uint128 assets; // pending: upper estimate (exit price at request); then the amount owed
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
    /// @notice Only the request's controller or its operator may claim it.
    error NotRequestParty(uint256 id, address caller);
    /// @notice Redeeming zero shares, or shares worth zero assets.
    error ZeroRedemption(uint256 shares);
    /// @notice A held asset's feed is down: entries are refused until it (or its fallback) is back.
    error FeedDown();
    /// @notice The in-kind exit's own mark ran out of the gas its caller gave it: send the exit
    /// with more gas (a mark refused for a feed down is taken, never this).
    error InKindMarkStarved();
    /// @notice Only a pending request can be cancelled (`status` is where it is).
    error RequestNotPending(uint256 id, RequestStatus status);
    /// @notice A request can be cancelled from `cancellableAt` on (CANCEL_DELAY after it was made).
    error CancelTooEarly(uint256 id, uint256 cancellableAt);
    /// @notice The base token delivered a different amount than transferred (fee on transfer).
    error TransferAmountMismatch(uint256 sent, uint256 received);
    /// @notice A fee rate above its hard cap (`what`: managementBps or performanceBps).
    error FeeAboveCap(string what, uint256 bps, uint256 cap);
    /// @notice Only the timelock (DEFAULT_ADMIN_ROLE) may make this change (`what`): it adds
    /// risk for holders (a higher fee).
    error RiskIncreaseRequiresTimelock(address caller, string what);

    /// @notice Refused in phase `phase`: entries from closing on; once closed, requests, the
    /// in-kind exit (redeem pays the fixed price in cash) and fee changes.
    error FundNotOpen(Phase phase);
    /// @notice close() needs the fund closing (initiateClosing first), never again once closed.
    error NotClosing(Phase phase);
    /// @notice close() needs what is left to be cash: the controller values `invested` (its
    /// higher valuation) at 0, with pricing available (`pricingUnavailable` false: no feed down,
    /// no valuation held, no move under way), and some free cash to fix the price on.
    error CloseNotReady(uint256 invested, bool pricingUnavailable);

    /* EVENTS */

    /// @notice The AssetController was wired in.
    event ControllerSet(address indexed controller);
    /// @notice ERC-7540: `owner`'s `assets` shares (sic: the standard's name) were locked in
    /// request `requestId` for `controller`, by `sender`.
    event RedeemRequest(
        address indexed controller, address indexed owner, uint256 indexed requestId, address sender, uint256 assets
    );
    /// @notice ERC-7540: `controller` approved or revoked `operator`.
    event OperatorSet(address indexed controller, address indexed operator, bool approved);
    /// @notice A queued redemption was priced and funded: `shares` burnt, `assets` claimable.
    event RedemptionFulfilled(uint256 indexed id, uint256 shares, uint256 assets);
    /// @notice A pending request was cancelled: its shares went back to `owner`.
    event RedeemCancelled(uint256 indexed id, address indexed controller, address indexed owner, uint256 shares);
    /// @notice fulfilRedemptions paid nothing: a held asset's feed is down (requests wait for it).
    event FulfilmentHeld(uint256 nextRequest);
    /// @notice A funded redemption was paid to `receiver`.
    event RedemptionClaimed(uint256 indexed id, address indexed controller, address indexed receiver, uint256 assets);
    /// @notice Deposits were paused or unpaused.
    event DepositsPausedSet(bool paused);
    /// @notice Withdrawals were paused or unpaused.
    event WithdrawalsPausedSet(bool paused);
    /// @notice The timelock started the wind-down: no entries from here on.
    event ClosingInitiated();
    /// @notice The fund closed: every exit from here on pays `shares * assets / supply` (`assets`:
    /// the free cash at close; `supply`: the share supply then plus the 10**6 virtual shares).
    event Closed(uint256 assets, uint256 supply);
    /// @notice Fees were minted to `recipient`: `shares` worth `managementFee` + `performanceFee`
    /// assets at the exit price; the high-water mark is `highWaterMark` after them.
    event FeesAccrued(
        address indexed recipient, uint256 managementFee, uint256 performanceFee, uint256 shares, uint256 highWaterMark
    );
    /// @notice The fee rates were set (bps: management a year, performance of the rise).
    event FeesSet(uint16 managementBps, uint16 performanceBps);
    /// @notice The fee recipient was set.
    event FeeRecipientSet(address indexed recipient);
    /// @notice `owner`'s `shares` were burnt for an in-kind exit: `cash` of the base token and
    /// the positions' own tokens (the controller's PaidInKind events) went to `receiver`.
    event RedeemedInKind(
        address indexed caller, address indexed receiver, address indexed owner, uint256 shares, uint256 cash
    );

    /* VIEWS */

    /// @notice The AssetController that manages the L2/L3 positions.
    function controller() external view returns (address);

    /// @notice Cash in the vault that is not reserved for funded claims.
    function freeCash() external view returns (uint256);

    /// @notice Upper estimate of what queued, unfunded redemptions will be paid (their exit
    /// value at request): L1 cash earmarked for them.
    function pendingRedemptions() external view returns (uint256);

    /// @notice Cash reserved for funded, unclaimed redemptions.
    function claimableRedemptions() external view returns (uint256);

    /// @notice Cash the controller may move out of L1 now: free cash less pending redemptions
    /// (0 from closing on: nothing is invested any more).
    function availableCash() external view returns (uint256);

    /// @notice A queued redemption.
    function redeemRequest(uint256 id) external view returns (Redemption memory);

    /// @notice ERC-7540: shares of request `requestId` still pending for `controller` (0 otherwise).
    function pendingRedeemRequest(uint256 requestId, address controller) external view returns (uint256 shares);

    /// @notice ERC-7540: shares of request `requestId` claimable by `controller` (0 otherwise).
    function claimableRedeemRequest(uint256 requestId, address controller) external view returns (uint256 shares);

    /// @notice ERC-7540: whether `operator` may request and claim for `controller`.
    function isOperator(address controller, address operator) external view returns (bool);

    /// @notice One more than the last request id: ids run from 1 to count - 1 (0 is never a
    /// request; `redeemRequest(0)` is empty).
    function redeemRequestCount() external view returns (uint256);

    /// @notice Id of the oldest pending request (cancelled ones are unlinked from the queue, so
    /// this is always a live request), or `redeemRequestCount()` while none is pending.
    function nextRequestToFulfil() external view returns (uint256);

    /// @notice Seconds a request stays in the queue before its party may cancel it.
    function CANCEL_DELAY() external view returns (uint256);

    function depositsPaused() external view returns (bool);

    function withdrawalsPaused() external view returns (bool);

    /* FEES */

    /// @notice Hard cap of the management fee: 2% of the fund's value a year.
    function MAX_MANAGEMENT_FEE_BPS() external view returns (uint256);

    /// @notice Hard cap of the performance fee: 20% of the share price's rise above the
    /// high-water mark.
    function MAX_PERFORMANCE_FEE_BPS() external view returns (uint256);

    /// @notice The fee configuration: `recipient` (minted the fee shares), the management fee
    /// (`managementBps` of the value a year, by time) and the performance fee (`performanceBps`
    /// of the rise of the exit price per share above the high-water mark), and `accruedAt`,
    /// the last accrual (the management fee is owed from there). Both rates 0: no fee (the
    /// default). Fees accrue, minted as shares, at every entry, exit, fulfilment and mark, and
    /// every preview, convertTo* and max* counts the shares an accrual would mint now. While
    /// pricing is unavailable (the controller reverts, a held asset's feed is down or its
    /// valuation step is held) no performance fee accrues and the high-water mark is kept; only
    /// an exit (withdraw, redeem, redeemInKind) accrues then, the management fee owed up to it
    /// at the last valuation with every asset priced (free cash and the kept mark's invested
    /// value), so the exiter pays its share of it; anything else leaves the management fee's
    /// time to the next accrual.
    function fees()
        external
        view
        returns (address recipient, uint16 managementBps, uint16 performanceBps, uint40 accruedAt);

    /// @notice The high-water mark: the exit price per share (base tokens per whole share, times
    /// 1e18) above which the performance fee is charged. Starts at the price when a performance
    /// fee is turned on (or stays higher), rises to the price after each fee, and rises by the
    /// price a donation (cash sent to the vault outside its entries) or an entry's or exit's own
    /// flow adds, so neither is ever charged; a recovery below it is never charged either.
    function highWaterMark() external view returns (uint256);

    /// @notice The fee shares an exit's accrual would mint now (while pricing is unavailable: the
    /// management fee at the kept mark's valuation, no performance fee).
    function pendingFeeShares() external view returns (uint256);

    /// @notice Sets the fee rates (each at most its cap: FeeAboveCap), after accruing what is
    /// owed at the old ones. Raising either: the timelock (DEFAULT_ADMIN_ROLE); lowering: the
    /// admin at once. A rate above 0 needs a recipient. Turning the performance fee on needs
    /// the pricing available (FeedDown otherwise).
    function setFees(uint16 managementBps, uint16 performanceBps) external;

    /// @notice Sets the fee recipient, after accruing what is owed to the old one. The timelock.
    function setFeeRecipient(address recipient) external;

    /* REDEMPTION QUEUE */

    /// @notice ERC-7540: approves or revokes `operator` for the caller's requests and claims.
    function setOperator(address operator, bool approved) external returns (bool);

    /// @notice ERC-7540: moves `shares` of `owner` into the vault (locked, still in the supply)
    /// and queues them for `controller`. By the owner, its operator, or with a share allowance.
    /// Earmarks their current exit value (the estimate) of L1 cash.
    /// @return requestId The request id.
    function requestRedeem(uint256 shares, address controller, address owner) external returns (uint256 requestId);

    /// @notice Funds up to `maxCount` pending requests in order, while free cash covers each:
    /// each is priced at the lower of its estimate and its shares' exit value now, its shares
    /// burnt, the assets reserved for its claim. So a loss known at request or found before
    /// fulfilment is borne by the requester, and a later gain stays with the holders.
    /// While a held asset's feed is down nothing is funded (FulfilmentHeld): a request is
    /// never priced with that asset at zero. Cancelled requests are not in the queue (a cancel
    /// unlinks its request), so every step of the walk funds a request or stops it: a call
    /// costs O(maxCount) whatever was requested and cancelled before.
    /// Once closed: by anyone, each request at the fixed price (closedPrice), whatever its estimate.
    /// @dev Keeper or controller (anyone once closed).
    /// @return count Requests funded.
    /// @return assets Assets reserved for them.
    function fulfilRedemptions(uint256 maxCount) external returns (uint256 count, uint256 assets);

    /// @notice Cancels a pending request (by its controller or the controller's operator) at
    /// least `CANCEL_DELAY` after it was made: its shares go back to its owner, its cash earmark
    /// is released and it leaves the queue. The delay keeps a request from being a free lever
    /// on `availableCash` (request and cancel around another holder's exit in one block): the
    /// shares stay locked, and fundable in order, for the delay.
    function cancelRedeem(uint256 requestId) external;

    /// @notice Pays a funded request to `receiver`. By the request's controller or its operator.
    function claimRedemption(uint256 id, address receiver) external returns (uint256 assets);

    /* IN-KIND EXIT (needs nobody: no keeper, executor, funder, admin or price) */

    /// @notice The in-kind exit's penalty in basis points of the shares redeemed, kept by the
    /// fund for the holders left (a constant: no key can raise it). It is what realising an
    /// oracle's lag behind the market (enter with cash at the oracle, leave with the tokens,
    /// sell them at the market) must beat.
    function IN_KIND_PENALTY_BPS() external view returns (uint256);

    /// @notice Burns `owner`'s `shares` and pays `receiver` their pro-rata part, less the
    /// penalty, of the fund as it is, needing no price: `net / (totalSupply + 10**6)` (net =
    /// `shares` less IN_KIND_PENALTY_BPS; the virtual shares are the pricing's) of the free cash
    /// (the cash reserved for funded, unclaimed requests is not touched) and, through the
    /// controller's payInKind, of every position's accounted units, as the tokens themselves;
    /// each part rounded down. Queued requests' shares stay in the supply, so they keep their
    /// pro-rata claim; an asynchronous position's pending requests stay for the holders left.
    /// Never stopped by a pause (withdrawalsPaused, depositsPaused, the controller's): only
    /// mid-move (MovesUnderWay) and reentrantly refused. By `owner`, an operator of `owner`'s,
    /// or a spender of `owner`'s allowance.
    /// @return cash The base token paid.
    /// @return tokens The controller's listed tokens, in list order (empty: no controller).
    /// @return amounts The units of each paid (0: none held, or the transfer failed and was skipped).
    function redeemInKind(uint256 shares, address receiver, address owner)
        external
        returns (uint256 cash, address[] memory tokens, uint256[] memory amounts);

    /// @notice What redeemInKind(shares, ...) would pay now (a token transfer that would fail
    /// is not foreseen): the view the keeper and the console show as a holder's in-kind exit.
    function previewRedeemInKind(uint256 shares)
        external
        view
        returns (uint256 cash, address[] memory tokens, uint256[] memory amounts);

    /* WIND-DOWN */

    /// @notice The wind-down's phase (Open, Closing, Closed).
    function phase() external view returns (Phase);

    /// @notice The price fixed by close(), as a fraction: an exit of `s` shares pays
    /// `s * assets / supply` base units, rounded down (withdraw: the shares rounded up). (0, 0)
    /// until closed.
    function closedPrice() external view returns (uint256 assets, uint256 supply);

    /// @notice Starts the wind-down, once, for ever: deposits and mints refused (FundNotOpen;
    /// maxDeposit and maxMint 0), availableCash() answers 0 so the controller invests nothing
    /// (its rebalance sees no L1 cash to deploy; pullCash refuses every purchase) and its moves
    /// can only sell toward cash. Exits (redeem, withdraw, the queue, the in-kind exit) and fees
    /// go on as before. The timelock (DEFAULT_ADMIN_ROLE).
    function initiateClosing() external;

    /// @notice Closes the fund, once, for ever: by anyone, while closing, once what is left is
    /// cash (the controller's valuation is 0 with pricing available: every position sold,
    /// settled or taken in kind) and the free cash is above 0. Accrues the fees owed up to now,
    /// then sets both rates to 0 for ever; fixes the price at the free cash over the supply
    /// (with the virtual shares). From then on redeem and withdraw pay that price with no
    /// pause, no price read and nobody else acting; queued requests are funded at it by anyone
    /// (fulfilRedemptions), funded ones are claimed as before; requestRedeem, redeemInKind and
    /// setFees are refused. Permissionless because nothing is chosen: the price is cash over
    /// supply, which no deposit (refused) or exit (paid at that same price, rounded for the
    /// fund) can move against holders.
    function close() external;

    /* CONTROLLER */

    /// @notice Sends `amount` of available cash to `to` (an adapter). Only the controller. No
    /// event of its own: the base token's Transfer (vault to adapter) and the controller's
    /// Purchased say it (issue 45: 1,900 gas a leg, 30,000 at a 16-asset rebalance).
    function pullCash(address to, uint256 amount) external;

    /// @notice The controller's mark (invested value per tier: `l2`, `l3`) and its tiers' bands
    /// (`bands`: tier t's minBps at bit 32t, its maxBps at bit 32t + 16): stores the band of
    /// available cash inside which every tier is in its band at that mark (rounded inward; none
    /// when empty) and returns whether the available cash is in it now. From then on every
    /// change of the available cash made through this vault is checked against the band, and
    /// the first that leaves it calls the controller's cashLeftBand(). `cashIn`: the base
    /// tokens the controller's call sent this vault from the fund's own positions (sales, a
    /// purchase's unspent rest, a settlement), which the performance fee's book takes in: only
    /// cash above the book is a transfer made outside the vault, never charged. `valued`: the
    /// mark was taken now with every asset priced, so the fees accrue at it; false for a mark
    /// kept through an outage or a held valuation (its values are the last mark's, which the
    /// moves since did not lower), which is no valuation, even in the block it was taken in.
    /// Only the controller.
    function noteMark(uint256 l2, uint256 l3, uint256 bands, uint256 cashIn, bool valued)
        external
        returns (bool inBand);

    /// @notice The band noteMark stored, as the available cash range it accepts (lo > hi: none,
    /// or left since the mark).
    function cashBand() external view returns (uint256 lo, uint256 hi);

    /* ADMIN */

    /// @notice Wires the controller, once. Admin.
    function setController(address controller_) external;

    /// @notice Pauses deposits (guardian or admin) or unpauses them (admin).
    function setDepositsPaused(bool paused) external;

    /// @notice Pauses withdrawals (guardian or admin) or unpauses them (admin).
    function setWithdrawalsPaused(bool paused) external;
}
