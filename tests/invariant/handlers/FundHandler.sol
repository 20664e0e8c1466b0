// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {CheatBase, Vm} from "../support/InvariantBase.sol";
import {TieredVault} from "../../../contracts/fund/TieredVault.sol";
import {AssetController} from "../../../contracts/fund/AssetController.sol";
import {ITieredVault} from "../../../contracts/interfaces/ITieredVault.sol";
import {IAssetControllerTypes} from "../../../contracts/interfaces/IAssetControllerTypes.sol";
import {TestStablecoin} from "../../../contracts/test/TestStablecoin.sol";
import {TestPriceFeed} from "../../../contracts/test/TestPriceFeed.sol";
import {TestMoneyMarketFund} from "../../../contracts/test/TestMoneyMarketFund.sol";
import {PlanExecutor} from "../../../contracts/fund/PlanExecutor.sol";
import {PriceStepLib} from "../../../contracts/libraries/PriceStepLib.sol";
import {IPlanExecutor} from "../../../contracts/interfaces/IPlanExecutor.sol";

/// @notice What the suite drives a feed with: TestPriceFeed (Chainlink's MockV3Aggregator, a
/// new round per answer) and TestRoundlessFeed (RedStone's PriceFeedWithoutRounds: round 1
/// forever) both answer it.
interface IERC20Like {
    function transfer(address to, uint256 value) external returns (bool);
}

interface ITestFeed {
    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80);
    function latestRound() external view returns (uint256);
    function updateAnswer(int256 answer) external;
    function updateRoundData(uint80 roundId, int256 answer, uint256 timestamp, uint256 startedAt) external;
}

/// @notice The actors of the fund suite. Holders (alice, bob) and an attacker (eve) use the
/// vault's public functions; a compromised keeper key moves money with arbitrary sizes and no
/// quoted minimum; the market moves prices, feeds go down and come back, time passes. Each
/// action records what the properties need (ghosts) and latches a flag when a step breaks a
/// property on the spot (the suite's invariants read the flags).
contract FundHandler is CheatBase {
    uint256 internal constant FEED_ONE = 1e8;
    uint256 internal constant HEARTBEAT = 86_400;
    uint256 internal constant PPS_SCALE = 1e30;
    /// @notice The stated bound (issue 45): `fulfilRedemptions(1)` funds or stops at the next
    /// live request for at most this much gas, whatever eve requested and cancelled before it
    /// (the most a probe cost is kept in maxQueueStepGas: under 120,000 over the fast profile's
    /// 48 x 25 calls, both decimals; the old queue's walk added 2,521 gas per cancelled entry,
    /// so one storm of 80 pairs alone took it past the bound).
    uint256 public constant QUEUE_STEP_GAS = 200_000;

    TieredVault public immutable vault;
    AssetController public immutable controller;
    TestStablecoin public immutable cash;
    uint256 public immutable unit;
    address public immutable keeper;
    address[] public actors; // alice, bob, eve (the attacker)
    address public immutable eve;
    address[] public tokens;
    ITestFeed[] public feeds;
    bool[] public down;

    // an asset listed but never bought (cap 1): eve donates token dust of it (issue 25)
    address public spare;
    TestPriceFeed public spareFeed;

    // the keeper key behind the PlanExecutor (issue 25): unsigned plans split anyhow, and the
    // notional each unsigned action booked, when
    PlanExecutor public executor;
    address public planKeeper;
    uint256[] public unsignedAt;
    uint256[] public unsignedNotional;
    uint256 internal _planNonce;

    // ghost ledger of the base token crossing the fund's boundary
    string public outageMoved; // set when a rebalance moved money while a held feed was down
    // eve gave the vault cash (no code of it ran) since the last holder's step through the vault:
    // the no-op flag may not have seen it yet (invariant_noopOnlyInBand)
    bool public donatedUnseen;
    uint256 public cashIn; // deposits, mints and donations
    uint256 public cashOut; // withdrawals, redemptions and claims
    uint256 public eveSpent;
    uint256 public eveReceived;

    // keeper moves: the value each lost at unchanged prices, when
    uint256[] public lossAt;
    uint256[] public lossAmount;

    // probePricing: how often the stored mark answered users' pricing, of how many probes
    uint256 public cheapPricing;
    uint256 public pricingProbes;

    // properties broken on the spot (first failure kept, with what broke it)
    string public broken;
    // fourth review: an outsider's transfer changed whether or what a rebalance moved
    string public transferMoved;
    uint256 public transferProbes; // runs compared with and without an outsider's transfer
    // fourth review: a move reverted with a venue's own cap error (ERC4626ExceededMaxDeposit)
    string public capReverted;
    // the venue whose cap eve fills and drains between any two calls (TestCappedFund), and
    // how often she did each
    address public capped;
    uint256 public capFills;
    // the queue's properties (issue 45), latched apart so their invariant names what broke
    string public queueBroken;
    uint256 public queueProbes; // fulfilRedemptions(1) calls that met a live request
    uint256 public stormPairs; // request+cancel pairs eve made
    uint256 public maxQueueStepGas; // the most one of them cost

    // issue 54: the fee recipient (never acts; set by the suite when fees are on) and what
    // broke a fee property, latched apart so the invariant names it
    address public feeRecipient;
    string public feeBroken;
    uint256 public feeAccruals; // checked steps that minted fee shares

    // issue 54: the in-kind exit's properties, latched apart so their invariants name what broke
    string public inKindBroken; // the shares left lost worth, or a round trip profited
    string public inKindQueueBroken; // the queue's reserved cash or its books were touched
    uint256 public inKindExits; // in-kind exits made (holders' and eve's round trips)

    // fifth review, SEC5-02: a fee minted on value an exit left behind (exitLeavesNoFee)
    string public leftBehindCharged;
    string public leftBehindChargedPerShare;
    // the recipient forwent fee on the holders' own gain: the mark lifted by more than an exit
    // left behind (an outage exit's follow priced at a kept mark that missed a sale)
    string public leftBehindForgone;
    uint256 public leftBehindSaleProbes; // probes with a keeper sale in the outage before the exit
    uint256 public leftBehindFeeProbes; // probes whose mark with no exit charged a performance fee
    uint256 public leftBehindProbes; // probes whose exit went through and whose marks priced
    uint256 public leftBehindAsyncProbes; // of them, with an asynchronous position pending (issue 65)
    // a fee minted on a transfer made outside the vault that a keeper move met (donationLeavesNoFee)
    string public donationCharged;
    uint256 public donationProbes; // probes whose move went through both ways
    // a fee minted, or the high-water mark lifted, by a keeper move made while a held asset's
    // feed was down, against the same move with the feed up (outageMoveLeavesNoFee)
    string public outageMoveCharged;
    uint256 public outageMoveProbes; // probes compared (the step went through both ways, alike)
    uint256[7] public outageMoveProbesOf; // of them, by the step's kind
    // issue 65: the asynchronous RWA the probes list (see setAsync), and the suite (its admin)
    address public rwa;
    address public rwaAdapter;
    ITestFeed public rwaFeed;
    address public admin;

    // issue 54: each bounded asset's reference as the last call left it (priceHold), and
    // whether this call's guardian confirmed it (acceptPrice); a reference that moved further
    // than the bound allowed at its old time, without an accept, is latched here
    uint256[] internal _lastRef;
    uint256[] internal _lastAt;
    bool[] internal _accepted;
    string public stepBroken;
    uint256 public stepsHeld; // step actions that left their asset held

    uint256[] internal _requestIds;
    mapping(uint256 => uint256) public estimateAtRequest;
    mapping(bytes32 => uint256) public calls;

    constructor(
        TieredVault vault_,
        AssetController controller_,
        TestStablecoin cash_,
        address keeper_,
        address[] memory actors_,
        address[] memory tokens_,
        ITestFeed[] memory feeds_
    ) {
        vault = vault_;
        controller = controller_;
        cash = cash_;
        unit = 10 ** cash_.decimals();
        keeper = keeper_;
        actors = actors_;
        eve = actors_[actors_.length - 1];
        tokens = tokens_;
        feeds = feeds_;
        for (uint256 i; i < feeds_.length; ++i) {
            down.push(false);
            _lastRef.push();
            _lastAt.push();
            _accepted.push();
        }
    }

    /// @dev After every action: a bounded asset's reference (the price the last mark or move
    /// counted) moved only within its step bound at the time it moved (stepBps + perDayBps per
    /// day since the old reference), or by the guardian's acceptPrice.
    modifier checksReferences() {
        _;
        for (uint256 i; i < tokens.length; ++i) {
            (, uint256 ref,,,, uint16 stepBps, uint16 perDayBps, uint64 at) = controller.priceHold(tokens[i]);
            if (ref != _lastRef[i] || at != _lastAt[i]) {
                uint256 allowed = PriceStepLib.allowedBps(stepBps, perDayBps, at - _lastAt[i]);
                bool bounded = (stepBps | perDayBps) != 0;
                if (bounded && !_accepted[i] && _lastRef[i] != 0 && PriceStepLib.beyond(_lastRef[i], ref, allowed)) {
                    _latch(stepBroken, "a mark counted a price beyond its step bound without an accept");
                }
                (_lastRef[i], _lastAt[i]) = (ref, at);
            }
            _accepted[i] = false;
        }
    }

    /// @dev Set once by the suite's setUp; the fuzzer's calls find it set and change nothing.
    function setSpare(address spare_, TestPriceFeed feed_) external {
        if (spare != address(0)) return;
        (spare, spareFeed) = (spare_, feed_);
    }

    /// @dev Set once by the suite's setUp; the fuzzer's calls find it set and change nothing.
    function setCapped(address capped_) external {
        if (capped != address(0)) return;
        capped = capped_;
    }

    /// @dev Set once by the suite's setUp; the fuzzer's calls find it set and change nothing.
    /// An asynchronous RWA issuer (settles at once, redeems any time) with its adapter and feed,
    /// deployed but not listed: exitLeavesNoFee's probes list it, buy it and leave requests of
    /// it pending (as the admin, the suite: `msg.sender`), inside the probe only.
    function setAsync(address rwa_, address adapter_, ITestFeed feed_) external {
        if (rwa != address(0)) return;
        (rwa, rwaAdapter, rwaFeed, admin) = (rwa_, adapter_, feed_, msg.sender);
    }

    /// @dev Set once by the suite's setUp; the fuzzer's calls find it set and change nothing.
    function setExecutor(PlanExecutor executor_, address planKeeper_) external {
        if (address(executor) != address(0)) return;
        (executor, planKeeper) = (executor_, planKeeper_);
    }

    /// @dev The notional run through the executor unsigned, and when (the suite's spans).
    function unsignedLog() external view returns (uint256[] memory, uint256[] memory) {
        return (unsignedAt, unsignedNotional);
    }

    /* ---------------------------------------------------------------- helpers */

    /// @dev What the fund holds where: the vault's cash, the controller's cash and every
    /// position's units, hashed (a move changes at least two of them).
    function _holdings() internal view returns (bytes32 h) {
        h = keccak256(abi.encode(_balanceOf(address(cash), address(vault)), _balanceOf(address(cash), address(controller))));
        for (uint256 i; i < tokens.length; ++i) {
            h = keccak256(abi.encode(h, _balanceOf(tokens[i], address(controller))));
        }
    }

    function _fail(string memory what) internal {
        _latch(broken, what);
    }

    function _actor(uint256 seed) internal view returns (address) {
        return actors[seed % actors.length];
    }

    /// @dev Price per share at the exit price, as ERC-4626 (with the virtual offset) sees it:
    /// with the fee shares an accrual would mint now (what every preview counts), so a step
    /// that accrues them is not a fall.
    function pps() public view returns (uint256) {
        return Math.mulDiv(vault.totalAssets() + 1, PPS_SCALE, vault.totalSupply() + vault.pendingFeeShares() + 1e6);
    }

    function setFeeRecipient(address r) external {
        if (feeRecipient == address(0)) {
            feeRecipient = r;
            // outageMoveLeavesNoFee reads the book's slot (setFees set it to the free cash)
            require(uint256(vm.load(address(vault), _BOOK_SLOT)) == vault.freeCash(), "book slot moved");
        }
        // exitLeavesNoFee writes the high-water mark's slot: a layout change fails here
        require(uint256(vm.load(address(vault), _HWM_SLOT)) == vault.highWaterMark(), "hwm slot moved");
    }

    /// @dev TieredVault's `_hwm`: ERC20's five slots, AccessControl's roles, then the vault's
    /// own (controller and flags, the reserves, the queue's head, requests, operators, fees).
    bytes32 internal constant _HWM_SLOT = bytes32(uint256(12));
    /// @dev TieredVault's `_book`, next to the high-water mark.
    bytes32 internal constant _BOOK_SLOT = bytes32(uint256(13));

    struct FeeSnap {
        uint256 bal; // the recipient's shares
        uint256 ta;
        uint256 supply;
        uint256 hwm;
        uint256 at;
    }

    function _feeSnap() internal view returns (FeeSnap memory s) {
        if (feeRecipient == address(0)) return s;
        (,,, uint40 at) = vault.fees();
        s = FeeSnap(vault.balanceOf(feeRecipient), vault.totalAssets(), vault.totalSupply(), vault.highWaterMark(), at);
    }

    /// @dev The fee shares a step minted, worth at most the caps' fees for the time since the
    /// last accrual (management: 2% a year of the value) and for the price's rise above the
    /// high-water mark before the step (performance: 20% of it), a wei of rounding each; none
    /// of the performance fee while the price is at or below the mark. `atMark`: the step's
    /// accrual priced the fund at the mark it took (its value after the step), not before it.
    function _checkFees(FeeSnap memory s, bool atMark) internal {
        if (feeRecipient == address(0)) return;
        uint256 minted = vault.balanceOf(feeRecipient) - s.bal;
        if (minted == 0) return;
        ++feeAccruals;
        uint256 v = atMark ? vault.totalAssets() : s.ta;
        uint256 sv = s.supply + 1e6;
        uint256 worth = Math.mulDiv(minted, v + 1, sv + minted);
        uint256 mgmtMax = Math.mulDiv(v, 200 * (block.timestamp - s.at), 10_000 * 365 days) + 1;
        uint256 price = Math.mulDiv(v + 1, 1e24, sv);
        uint256 perfMax = price > s.hwm ? Math.mulDiv(price - s.hwm, sv, 1e24) * 2_000 / 10_000 + 1 : 0;
        if (perfMax == 0 && worth > mgmtMax) _latch(feeBroken, "performance fee while below the high-water mark");
        if (worth > mgmtMax + perfMax) _latch(feeBroken, "fee shares above the caps");
    }

    modifier feesChecked(bool atMark) {
        FeeSnap memory s = _feeSnap();
        _;
        _checkFees(s, atMark);
    }

    /// @dev The fund's value at the feeds' current answers, computed here, not by the
    /// controller: base tokens held by the vault and the controller plus every position.
    function fundValue() public view returns (uint256 v) {
        v = cash.balanceOf(address(vault)) + cash.balanceOf(address(controller));
        for (uint256 i; i < tokens.length; ++i) {
            (, int256 answer,,,) = feeds[i].latestRoundData();
            v += Math.mulDiv(_balanceOf(tokens[i], address(controller)), uint256(answer), FEED_ONE);
        }
    }

    function _balanceOf(address token, address who) internal view returns (uint256) {
        return TestStablecoin(token).balanceOf(who);
    }

    /// @dev A held asset whose feed is down (what the vault must treat as an outage). Held:
    /// units the fund counts, at most those of the last mark or move (`MarkedPosition.units`, read
    /// from the controller's storage: eve's donations count from the next mark).
    function heldAssetDown() public view returns (bool) {
        for (uint256 i; i < tokens.length; ++i) {
            if (countedUnits(tokens[i]) == 0) continue;
            if (down[i]) return true;
            // issue 54: an answer its step bound holds closes entries and the mark as an outage does
            (bool held,,,,,,,) = controller.priceHold(tokens[i]);
            if (held) return true;
        }
        return false;
    }

    /// @dev min(balance, the units the last mark or move counted): `_marked` is the controller's
    /// storage slot 17 (forge inspect AssetController storageLayout), one slot per list index,
    /// the units its high half.
    function countedUnits(address token) public view returns (uint256) {
        uint256 bal = _balanceOf(token, address(controller));
        address[] memory list = controller.assetList();
        uint256 i;
        while (list[i] != token) ++i;
        uint256 counted = uint256(vm.load(address(controller), bytes32(uint256(17) + i))) >> 128;
        return bal < counted ? bal : counted;
    }

    function _checkPps(uint256 before, string memory what) internal {
        if (pps() < before) _fail(what);
    }

    function _count(string memory name) internal {
        ++calls[keccak256(bytes(name))];
    }

    function requestIds() external view returns (uint256[] memory) {
        return _requestIds;
    }

    /// @dev What the keeper's moves lost, and when (the suite's window-long spans).
    function lossLog() external view returns (uint256[] memory, uint256[] memory) {
        return (lossAt, lossAmount);
    }

    /* ------------------------------------------------------- holders and eve */

    function deposit(uint256 actorSeed, uint256 amount) external feesChecked(false) checksReferences {
        address a = _actor(actorSeed);
        amount = bound(amount, 1, 2_000_000 * unit);
        // issue 67: from closing on, no entry
        bool mustRefuse = heldAssetDown() || vault.phase() != ITieredVault.Phase.Open;
        uint256 before = pps();
        cash.mint(a, amount);
        vm.startPrank(a);
        cash.approve(address(vault), amount);
        try vault.deposit(amount, a) returns (uint256) {
            vm.stopPrank();
            _entered("deposit", a, amount, mustRefuse, before);
        } catch {
            vm.stopPrank();
            if (!mustRefuse && !vault.depositsPaused()) _fail("deposit refused with every held feed live");
        }
    }

    function mint(uint256 actorSeed, uint256 shares) external feesChecked(false) checksReferences {
        address a = _actor(actorSeed);
        shares = bound(shares, 1, 2_000_000 * unit * 1e6);
        bool mustRefuse = heldAssetDown() || vault.phase() != ITieredVault.Phase.Open;
        uint256 before = pps();
        uint256 assets = mustRefuse ? 2_000_000 * unit * 2 : vault.previewMint(shares);
        cash.mint(a, assets);
        vm.startPrank(a);
        cash.approve(address(vault), assets);
        try vault.mint(shares, a) returns (uint256 paid) {
            vm.stopPrank();
            _entered("mint", a, paid, mustRefuse, before);
        } catch {
            vm.stopPrank();
            if (!mustRefuse) _fail("mint refused with every held feed live");
        }
    }

    /// @dev An entry (`what`: deposit or mint) of `paid` base units by `a` went through: it had
    /// to be refused while a held feed is down or the fund closing, and must not lower the share
    /// price; the cash is booked in (eve's too), and the vault has seen every donation since.
    function _entered(string memory what, address a, uint256 paid, bool mustRefuse, uint256 before) internal {
        if (mustRefuse) _fail(string.concat(what, " accepted while a held asset's feed is down or the fund closing"));
        cashIn += paid;
        if (a == eve) eveSpent += paid;
        _checkPps(before, string.concat("share price fell on a ", what));
        _count(what);
        donatedUnseen = false;
    }

    function withdraw(uint256 actorSeed, uint256 amount) external checksReferences {
        _leave(actorSeed, amount, false);
    }

    function redeem(uint256 actorSeed, uint256 shares) external checksReferences {
        _leave(actorSeed, shares, true);
    }

    /// @dev A holder leaves through the vault's cash within its max: `redeem` (x in shares) or
    /// `withdraw` (x in assets). Either must succeed and must not lower the share price.
    function _leave(uint256 actorSeed, uint256 x, bool byShares) internal feesChecked(false) {
        address a = _actor(actorSeed);
        uint256 max = byShares ? vault.maxRedeem(a) : vault.maxWithdraw(a);
        if (max == 0) return;
        x = bound(x, 1, max);
        uint256 before = pps();
        function(uint256, address, address) external returns (uint256) exit =
            byShares ? vault.redeem : vault.withdraw;
        vm.prank(a);
        try exit(x, a, a) returns (uint256 r) {
            uint256 paid = byShares ? r : x; // redeem returns assets, withdraw returns shares
            cashOut += paid;
            if (a == eve) eveReceived += paid;
            _checkPps(before, byShares ? "share price fell on a redemption" : "share price fell on a withdrawal");
            _count(byShares ? "redeem" : "withdraw");
            donatedUnseen = false;
        } catch {
            _fail(byShares ? "redeem within maxRedeem reverted" : "withdraw within maxWithdraw reverted");
        }
    }

    function requestRedeem(uint256 actorSeed, uint256 shares) external checksReferences {
        address a = _actor(actorSeed);
        uint256 bal = vault.balanceOf(a);
        if (bal == 0) return;
        shares = bound(shares, 1, bal);
        if (vault.previewRedeem(shares) == 0) return; // ZeroRedemption by design
        if (_closed()) {
            // issue 67: once closed, redeem pays the fixed price at once; no request is taken
            vm.prank(a);
            try vault.requestRedeem(shares, a, a) returns (uint256) {
                _fail("a request was taken once the fund closed");
            } catch {}
            return;
        }
        uint256 before = pps();
        vm.prank(a);
        try vault.requestRedeem(shares, a, a) returns (uint256 id) {
            _requestIds.push(id);
            estimateAtRequest[id] = vault.redeemRequest(id).assets;
            _checkPps(before, "share price fell on a redemption request");
            _count("requestRedeem");
            donatedUnseen = false;
        } catch {
            _fail("requestRedeem of owned shares reverted");
        }
    }

    function claim(uint256 seed) external checksReferences {
        uint256 n = _requestIds.length;
        if (n == 0) return;
        uint256 id = _requestIds[seed % n];
        ITieredVault.Redemption memory r = vault.redeemRequest(id);
        if (r.status != ITieredVault.RequestStatus.Claimable) return;
        // eve first tries to take someone else's claim
        if (r.controller != eve) {
            vm.prank(eve);
            try vault.claimRedemption(id, eve) {
                _fail("eve claimed another holder's redemption");
            } catch {}
        }
        uint256 before = pps();
        vm.prank(r.controller);
        try vault.claimRedemption(id, r.controller) returns (uint256 assets) {
            if (assets != r.assets) _fail("claim paid other than the fulfilled amount");
            if (assets > estimateAtRequest[id] && !paidClosedPrice(id)) {
                _fail("a request was paid more than its value when it was made");
            }
            cashOut += assets;
            if (r.controller == eve) eveReceived += assets;
            _checkPps(before, "share price fell on a claim");
            _count("claim");
        } catch {
            _fail("claim of a claimable request reverted");
        }
    }

    /// @notice Anyone may mark: eve marks whenever she likes.
    function markByEve() external feesChecked(true) checksReferences {
        uint256 before = pps();
        bool outage = heldAssetDown();
        vm.prank(eve);
        try controller.mark() {
            // an outage decides nothing: no mark counting a held asset at zero
            if (outage) _fail("a mark was taken while a held asset's feed was down");
            _checkPps(before, "share price fell on eve's mark");
            _count("mark");
        } catch {}
    }

    /// @notice A requester cancels one of its pending requests: its shares come back, nobody
    /// else's share price moves, and eve cannot cancel another holder's.
    function cancel(uint256 seed, bool byEve) external checksReferences {
        uint256 n = _requestIds.length;
        if (n == 0) return;
        uint256 id = _requestIds[seed % n];
        ITieredVault.Redemption memory r = vault.redeemRequest(id);
        address who = byEve ? eve : r.controller;
        uint256 before = pps();
        uint256 owned = vault.balanceOf(r.owner);
        bool early = block.timestamp < r.requestedAt + vault.CANCEL_DELAY();
        vm.prank(who);
        try vault.cancelRedeem(id) {
            if (who != r.controller) _fail("eve cancelled another holder's request");
            if (r.status != ITieredVault.RequestStatus.Pending) _fail("a non-pending request was cancelled");
            if (early) _latch(queueBroken, "a request was cancelled within CANCEL_DELAY");
            if (vault.balanceOf(r.owner) != owned + r.shares) _fail("a cancel did not return the shares");
            _checkPps(before, "share price fell on a cancel");
            _count("cancel");
            donatedUnseen = false;
        } catch {
            if (who == r.controller && r.status == ITieredVault.RequestStatus.Pending && !early) {
                _fail("the controller's cancel of a pending request reverted");
            }
        }
    }

    /// @notice The third review's queue attack: eve makes up to 120 request+cancel pairs of
    /// her shares (depositing a little first if she holds none), waiting CANCEL_DELAY between
    /// the requests and the cancels (the live feeds report again meanwhile). Every cancel must
    /// succeed. Then a live request behind the storm (eve's, one pair's worth, so the cash
    /// covers it unless older requests hold it), probed by the keeper at once (`probeNow`: the
    /// funding check; the storm's slots are warm in this call, so its gas says little) or left
    /// for keeperFulfilsHead, a call of its own, where the slots are cold as on chain (the gas
    /// bound; storms left so pile up until then).
    function eveStorm(uint256 pairs, bool probeNow) external checksReferences {
        pairs = bound(pairs, 1, 120);
        if (heldAssetDown()) return; // no deposit in an outage; the storm waits for the feeds
        if (vault.balanceOf(eve) == 0) {
            cash.mint(eve, 1_000 * unit);
            vm.startPrank(eve);
            cash.approve(address(vault), 1_000 * unit);
            try vault.deposit(1_000 * unit, eve) {
                cashIn += 1_000 * unit;
                eveSpent += 1_000 * unit;
            } catch {}
            vm.stopPrank();
        }
        uint256 each = vault.balanceOf(eve) / pairs;
        if (each == 0 || vault.previewRedeem(each) == 0) return;
        uint256[] memory ids = new uint256[](pairs);
        vm.startPrank(eve);
        for (uint256 k; k < pairs; ++k) {
            ids[k] = vault.requestRedeem(each, eve, eve);
            _requestIds.push(ids[k]);
            estimateAtRequest[ids[k]] = vault.redeemRequest(ids[k]).assets;
        }
        vm.stopPrank();
        vm.warp(block.timestamp + vault.CANCEL_DELAY());
        _refreshFeeds();
        uint256 before = pps();
        vm.startPrank(eve);
        for (uint256 k; k < pairs; ++k) {
            try vault.cancelRedeem(ids[k]) {} catch { _latch(queueBroken, "eve's cancel after CANCEL_DELAY reverted"); }
        }
        vm.stopPrank();
        _checkPps(before, "share price fell on eve's cancels");
        stormPairs += pairs;
        vm.prank(eve);
        uint256 behind = vault.requestRedeem(each, eve, eve);
        _requestIds.push(behind);
        estimateAtRequest[behind] = vault.redeemRequest(behind).assets;
        if (probeNow) _probeQueue();
        _count("eveStorm");
    }

    /// @notice The keeper funds one request: the queue's head is a live (pending) request, the
    /// call reaches the next live request within QUEUE_STEP_GAS whatever eve cancelled before
    /// it, and funds that request whenever the vault's free cash covers its estimate (no feed
    /// down). "The next live request" is found here by scanning the ids from the head, not
    /// taken from the vault, so a queue that parks its head on a cancelled entry, or counts
    /// one against the call's bound, is caught by the funding check as well as the head check.
    function keeperFulfilsHead() external checksReferences {
        _probeQueue();
    }

    function _probeQueue() internal {
        uint256 id = vault.nextRequestToFulfil();
        uint256 n = vault.redeemRequestCount();
        if (id == n) return; // nothing queued
        bool outage = heldAssetDown();
        uint256 before = pps();
        // measured before this handler reads any request (a read would warm the slots the walk
        // then finds cold on chain)
        vm.prank(keeper);
        uint256 g = gasleft();
        vault.fulfilRedemptions(1);
        uint256 used = g - gasleft();
        if (used > maxQueueStepGas) maxQueueStepGas = used;
        if (used > QUEUE_STEP_GAS) _latch(queueBroken, "fulfilRedemptions(1) took more than QUEUE_STEP_GAS");
        // the next live request as of the call: the first request from the head that is not
        // cancelled (everything from the head on was pending or cancelled: funding goes in order)
        uint256 live = id;
        while (live < n && vault.redeemRequest(live).status == ITieredVault.RequestStatus.Cancelled) ++live;
        if (live == n) return; // nothing was pending
        if (live != id) _latch(queueBroken, "the queue's head is not a live request");
        ITieredVault.Redemption memory r = vault.redeemRequest(live);
        // unfunded, so the call changed nothing and the free cash is what it found
        // once closed a request is owed the fixed price, whatever its estimate (issue 67)
        uint256 owed = _closed() ? Math.mulDiv(r.shares, closedAssets, closedSupply) : r.assets;
        if (r.status == ITieredVault.RequestStatus.Pending && (!outage || _closed()) && owed <= vault.freeCash()) {
            _latch(queueBroken, "the next live request, its cash there, was not funded");
        }
        _checkPps(before, "share price fell on a fulfilment");
        ++queueProbes;
    }

    /// @notice A push that keeps the feed's round id (issue 45): what a round-less feed does on
    /// every answer, and here a Chainlink-style one too (its round rewritten in place). Up to
    /// 3% either way; users' pricing must see it at once (invariant_cheapPricingIsTheLivePass).
    function pushKeepingRound(uint256 seed, uint256 bps) external checksReferences {
        uint256 i = seed % feeds.length;
        if (down[i]) return;
        // a feed the timelock vouched for as bumping its round on every answer is trusted to
        // (setRoundsBumped): rewriting its round is outside what the fund can check
        if (controller.roundsBumped(tokens[i])) return;
        bps = bound(bps, 9_700, 10_300);
        uint80 round = uint80(feeds[i].latestRound());
        feeds[i].updateRoundData(round, int256(FEED_ONE * bps / 10_000), block.timestamp, block.timestamp);
        _count("pushKeepingRound");
    }

    /// @notice eve gives the vault cash (the donation attack's first step).
    function donate(uint256 amount) external feesChecked(false) checksReferences {
        amount = bound(amount, 1, 100_000 * unit);
        uint256 before = pps();
        cash.mint(eve, amount);
        vm.prank(eve);
        cash.transfer(address(vault), amount);
        donatedUnseen = true;
        cashIn += amount;
        eveSpent += amount;
        _checkPps(before, "share price fell on a donation");
    }

    /// @notice eve sends the controller units of a listed asset outside any move (issue 29):
    /// users' pricing counts them from the next mark, on the cheap path and the live pass alike
    /// (invariant_cheapPricingIsTheLivePass).
    function donateAsset(uint256 seed, uint256 amount) external checksReferences {
        uint256 i = seed % tokens.length;
        amount = bound(amount, 1, 50_000 * unit);
        uint256 before = pps();
        cash.mint(eve, amount);
        vm.startPrank(eve);
        cash.approve(tokens[i], amount);
        uint256 shares = TestMoneyMarketFund(tokens[i]).deposit(amount, eve);
        TestStablecoin(tokens[i]).transfer(address(controller), shares);
        vm.stopPrank();
        cashIn += amount; // the asset's own cash is counted with the fund's
        eveSpent += amount;
        _checkPps(before, "share price fell on a donation of an asset");
        _count("donateAsset");
    }

    /// @notice Reads users' pricing both ways and counts how often the stored mark answered
    /// (far less gas than the live pass), so a suite where the cheap path never ran shows.
    function probePricing() external checksReferences {
        uint256 g0 = gasleft();
        (uint256 l1, uint256 h1, bool d1) = controller.pricingValues();
        uint256 g1 = gasleft();
        (uint256 l2, uint256 h2, bool d2) = controller.livePricingValues();
        uint256 g2 = gasleft();
        if (l1 != l2 || h1 != h2 || d1 != d2) _fail("users' pricing differs from the live pass");
        if (g0 - g1 < (g1 - g2) / 2) ++cheapPricing;
        ++pricingProbes;
    }

    /// @notice The second review's 1-wei PoC: eve donates at most a millionth of a token of the
    /// listed asset the fund does not hold, and may take its feed down (or bring it back). Dust
    /// must close nothing (invariant_dustClosesNothing).
    function donateDust(uint256 amount, bool feedGoesDown) external checksReferences {
        if (spare == address(0)) return;
        uint8 d = TestStablecoin(spare).decimals();
        uint256 max = d <= 6 ? 1 : 10 ** (d - 6);
        uint256 held = _balanceOf(spare, address(controller));
        if (held >= max) return;
        amount = bound(amount, 1, max - held);
        cash.mint(eve, unit);
        vm.startPrank(eve);
        cash.approve(spare, unit);
        TestMoneyMarketFund(spare).deposit(unit, eve);
        cashIn += unit; // the spare fund's cash is counted with the fund's (a dust sale moves it)
        TestStablecoin(spare).transfer(address(controller), amount);
        vm.stopPrank();
        (, int256 answer,,,) = spareFeed.latestRoundData();
        if (feedGoesDown) {
            uint256 stale = block.timestamp - HEARTBEAT - 1;
            spareFeed.updateRoundData(uint80(spareFeed.latestRound() + 1), answer, stale, stale);
        } else {
            spareFeed.updateAnswer(answer);
        }
        _count("donateDust");
    }

    /// @notice eve deposits and redeems at once: she may never get back more than she paid.
    function roundTrip(uint256 amount) external checksReferences {
        if (heldAssetDown()) return;
        (bool ok, uint256 paid, uint256 shares) = _eveDeposits(amount);
        if (!ok) return;
        uint256 max = vault.maxRedeem(eve);
        if (shares > max) shares = max;
        // what the deposit's accrual minted was owed before her step; her trip adds nothing
        uint256 fees = feeRecipient == address(0) ? 0 : vault.balanceOf(feeRecipient);
        if (shares != 0) {
            vm.prank(eve);
            uint256 got = vault.redeem(shares, eve, eve);
            if (feeRecipient != address(0) && vault.balanceOf(feeRecipient) != fees) {
                _latch(feeBroken, "the fee recipient gained from a round trip");
            }
            cashOut += got;
            eveReceived += got;
            if (got > paid) _fail("eve's deposit-redeem round trip paid more than it cost");
        }
        _count("roundTrip");
    }

    /// @dev eve deposits `amount` (bounded to [1, 2M] base tokens, minted to her first) for
    /// herself, booked as cash in and as her spending: answers whether the vault took it, what
    /// she paid and the shares she got.
    function _eveDeposits(uint256 amount) internal returns (bool ok, uint256 paid, uint256 shares) {
        paid = bound(amount, 1, 2_000_000 * unit);
        cash.mint(eve, paid);
        vm.startPrank(eve);
        cash.approve(address(vault), paid);
        try vault.deposit(paid, eve) returns (uint256 s) {
            (ok, shares) = (true, s);
            cashIn += paid;
            eveSpent += paid;
        } catch {}
        vm.stopPrank();
    }

    /* ------------------------------------------------------------ in-kind exits (issue 54) */

    /// @dev The fund at its mark: free cash plus the marked invested value, and the supply, both
    /// with the pricing's virtual unit and shares (so a fraction compares per share).
    /// @dev The fund's value (as _atMark's) at a mark eve takes now, in a probe put back;
    /// `stored` (the stored mark's) when none can be taken (pricing unavailable).
    function _valueAtMarkNow(uint256 stored) internal returns (uint256 value) {
        uint256 snap = vm.snapshotState();
        vm.prank(eve);
        try controller.mark() {
            (value,) = _atMark();
        } catch {
            value = stored;
        }
        vm.revertToState(snap);
    }

    function _atMark() internal view returns (uint256 value, uint256 supply) {
        (uint256 l2, uint256 l3) = controller.markedValues();
        return (vault.freeCash() + l2 + l3 + 1, vault.totalSupply() + 1e6);
    }

    /// @dev What `amounts` of `list` and `paid` cash are worth at the feeds' answers now.
    function _worth(uint256 paid, address[] memory list, uint256[] memory amounts) internal view returns (uint256 v) {
        v = paid;
        for (uint256 i; i < list.length; ++i) {
            if (amounts[i] == 0) continue;
            uint256 j;
            while (tokens[j] != list[i]) ++j;
            (, int256 answer,,,) = feeds[j].latestRoundData();
            v += Math.mulDiv(amounts[i], uint256(answer), FEED_ONE);
        }
    }

    /// @dev The fund as an in-kind exit found it (one memory word per field: stack depth).
    /* ------------------------------------------------------- the wind-down (issue 67) */

    /// @dev The timelock's seat on the vault (DEFAULT_ADMIN_ROLE): set by a wind-down suite only;
    /// unset, windDown does nothing and the fund stays open.
    address public closer;
    uint256 public closings; // initiateClosing calls taken
    uint256 public closes; // close calls taken (at most one)
    uint256 public closeAttempts; // close calls refused (what is left is not cash yet)
    // at close: the price fixed (closedPrice), one whole share's worth, the fee recipient's shares
    uint256 public closedAssets;
    uint256 public closedSupply;
    uint256 public closedShareWorth;
    uint256 public feeSharesAtClose;

    function setCloser(address closer_) external {
        if (closer == address(0)) closer = closer_;
    }

    function _closed() internal view returns (bool) {
        return vault.phase() == ITieredVault.Phase.Closed;
    }

    /// @dev A request paid the fixed price: funded once closed, at shares * assets / supply.
    function paidClosedPrice(uint256 id) public view returns (bool) {
        if (!_closed()) return false;
        ITieredVault.Redemption memory r = vault.redeemRequest(id);
        return r.assets == Math.mulDiv(r.shares, closedAssets, closedSupply);
    }

    /// @notice The wind-down in steps the fuzzer interleaves with everything else: the timelock
    /// starts the closing; then each call the keeper sells every counted unit it can (its
    /// budgets, holds and outages decide) and eve (anyone) tries close(). Once closed, every
    /// other action goes on against the closed fund.
    function windDown(uint256 seed) external checksReferences {
        if (closer == address(0)) return;
        ITieredVault.Phase p = vault.phase();
        if (p == ITieredVault.Phase.Closed) return;
        if (p == ITieredVault.Phase.Open) {
            vm.prank(closer);
            vault.initiateClosing();
            ++closings;
            if (vault.maxDeposit(eve) != 0 || vault.availableCash() != 0) _fail("closing left entries or cash to invest open");
            return;
        }
        vm.startPrank(keeper);
        for (uint256 k; k < tokens.length; ++k) {
            address token = tokens[(seed + k) % tokens.length];
            uint256 units = countedUnits(token);
            if (units != 0) address(controller).call(abi.encodeCall(controller.redeemAsset, (token, units, 0)));
        }
        vm.stopPrank();
        uint256 one = 10 ** vault.decimals();
        uint256 fees = feeRecipient == address(0) ? 0 : vault.balanceOf(feeRecipient);
        vm.prank(eve);
        try vault.close() {
            ++closes;
            (closedAssets, closedSupply) = vault.closedPrice();
            closedShareWorth = vault.convertToAssets(one);
            feeSharesAtClose = feeRecipient == address(0) ? 0 : vault.balanceOf(feeRecipient);
            if (feeSharesAtClose < fees) _fail("close burnt fee shares");
            (uint256 low, uint256 high, bool down_) = controller.pricingValues();
            if (low != 0 || high != 0 || down_) _fail("closed with something still valued");
        } catch {
            ++closeAttempts;
        }
    }

    struct InKindBefore {
        uint256 v0; // value at the mark
        uint256 s0; // supply with the virtual shares
        uint256 t0; // exit-price value
        uint256 claimable;
        uint256 pending;
        uint256 locked;
        uint256 free0;
        uint256 bal0;
        uint256 shares;
        bytes32 preview;
    }

    /// @notice A holder leaves in kind, whatever the feeds, the pauses and the queue: it must
    /// succeed and pay what the preview said; the shares left are worth at least what they were
    /// at the mark (strictly) and at the exit price (less at most one base unit per listed
    /// position: the valuation floors each); the queue's reserved cash and books are untouched,
    /// and the cash paid is at most the shares' part of the free cash.
    function inKind(uint256 actorSeed, uint256 shares) external {
        address a = _actor(actorSeed);
        uint256 bal = vault.balanceOf(a);
        if (bal == 0) return;
        if (_closed()) {
            // issue 67: once closed, redeem pays the fixed price in cash with no penalty
            vm.prank(a);
            try vault.redeemInKind(bound(shares, 1, bal), a, a) {
                _latch(inKindBroken, "an in-kind exit was taken once the fund closed");
            } catch {}
            return;
        }
        InKindBefore memory b;
        b.shares = bound(shares, 1, bal);
        // the exit marks itself (SEC5-01): the value per share before it is taken at a mark
        // made now (a probe, put back), so both sides are at the same prices
        (b.v0, b.s0) = _atMark();
        b.v0 = _valueAtMarkNow(b.v0);
        // the exit accrues the fees owed first: their shares are in the supply it shares out
        b.s0 += vault.pendingFeeShares();
        b.t0 = vault.totalAssets() + 1;
        b.claimable = vault.claimableRedemptions();
        b.pending = vault.pendingRedemptions();
        b.locked = vault.balanceOf(address(vault));
        b.free0 = vault.freeCash();
        b.bal0 = cash.balanceOf(address(vault));
        bool paysNothing;
        {
            (uint256 pc, address[] memory pt, uint256[] memory pa) = vault.previewRedeemInKind(b.shares);
            b.preview = keccak256(abi.encode(pc, pt, pa));
            paysNothing = pc == 0;
            for (uint256 i; i < pa.length; ++i) {
                if (pa[i] != 0) paysNothing = false;
            }
        }
        vm.prank(a);
        try vault.redeemInKind(b.shares, a, a) returns (uint256 paid, address[] memory list, uint256[] memory amounts) {
            if (paysNothing) _latch(inKindBroken, "an in-kind exit that pays nothing was taken");
            cashOut += paid;
            ++inKindExits;
            _count("inKind");
            donatedUnseen = false;
            if (keccak256(abi.encode(paid, list, amounts)) != b.preview) {
                _latch(inKindBroken, "an in-kind exit paid other than its preview");
            }
            _checkInKind(b, paid, list.length);
        } catch (bytes memory err) {
            // refused only when it pays nothing (ZeroRedemption: the holder keeps the shares)
            if (!paysNothing || bytes4(err) != ITieredVault.ZeroRedemption.selector) {
                _latch(inKindBroken, "an in-kind exit of owned shares reverted");
            }
        }
    }

    /// @notice SEC5-02, a probe (the state is put back after it): an exit, cash or in kind, in
    /// an outage (a feed answering 0) or not, with a token the in-kind exit must skip (its
    /// transfers revert) or not; then the outage ends and anyone marks. Against the same state
    /// with no exit: the performance fee charged (FeesAccrued's, the exit's own accrual
    /// included) is no more, less a millionth and 10 base units of rounding. Value the exit left behind (the
    /// price it paid with a down asset at zero, its penalty, a skipped token, the rounding)
    /// is the holders', never performance.
    /// Issue 65, mode bit 8: with an asynchronous position held and pending (tokens settled,
    /// half of them in redemption, and a subscription's cash), which the in-kind exit cannot
    /// transfer: the exiter's part of the pending value stays with the holders. Fails with
    /// AssetControllerAdmin._unitsValue answering the mark's whole value (the code before: the
    /// exit lowered the mark by the paid units' share of the pending value too, so in an outage
    /// the high-water mark rose by less than the exit left, and the mark after charged it).
    function exitLeavesNoFee(uint256 actorSeed, uint256 shares, uint256 seed) external {
        // every combination at each call: cash or in kind, outage or not, a skipped token or
        // not, and (in kind) an asynchronous position pending or not
        for (uint256 mode; mode < 16; ++mode) {
            if (mode & 8 != 0 && mode & 6 == 0) continue; // the pending value: in kind only
            _exitLeavesNoFee(actorSeed, shares, mode, seed);
        }
    }

    function _exitLeavesNoFee(uint256 actorSeed, uint256 shares, uint256 mode, uint256 seed) internal {
        if (feeRecipient == address(0) || _closed()) return; // closed: no fee at all (issue 67)
        address a = _actor(actorSeed);
        uint256 bal = vault.balanceOf(a);
        if (bal == 0) return;
        uint256 i = seed % tokens.length;
        (, int256 answer,,,) = feeds[i].latestRoundData();
        uint256 snap = vm.snapshotState();
        if (mode & 8 != 0 && !_asyncPending(seed)) {
            vm.revertToState(snap);
            return;
        }
        if (mode & 1 != 0 && !down[i]) feeds[i].updateAnswer(0); // the outage
        // (the outage's asset at its last good price in the mark)
        _hwmAtTheMarkPrice();
        // half the calls: in the outage, the keeper first sells half of another asset (sales
        // still run), so the kept mark counts a position the fund no longer holds
        bool sold = mode & 1 != 0 && (seed >> 8) & 1 != 0 && _keeperSells(tokens[(i + 2) % tokens.length]);
        uint256 base = vm.snapshotState();
        // with the exit
        ExitProbe memory pa = _withTheExit(a, bound(shares, 1, bal), mode, i, answer);
        vm.revertToState(base);
        // without it
        ExitProbe memory pb = _withTheExit(address(0), 0, mode, i, answer);
        vm.revertToState(snap);
        if (!pa.ok || !pb.ok) return;
        ++leftBehindProbes;
        if (mode & 8 != 0) ++leftBehindAsyncProbes;
        if (sold) ++leftBehindSaleProbes;
        if (pa.perf > pb.perf + pb.perf / 1e6 + 10 && bytes(leftBehindCharged).length == 0) {
            leftBehindCharged = "a fee was minted on value an exit left behind";
        }
        _checkNoFeeForgone(pa, pb);
        // a priced cash exit is paid at `low`, the lower of the mark's value and the live one:
        // after a rise since the mark it leaves its part of the rise, which is the fund's
        // performance, charged once (the total is the no-exit one, held above)
        if (mode & 7 != 0) _checkStayersChargedAsIfNobodyLeft(pa, pb);
    }

    /// @dev The charged side per share (the total above can hide it: the exit takes its
    /// shares' part of the fee away), for an exit in kind or in an outage: a share that stays
    /// pays the performance fee per share charged with no exit, times the in-kind penalty's
    /// factor (supply - net) / (supply - shares), which lifts the stayers' price and their
    /// distance to the high-water mark alike; beyond that, a millionth and 10 base units over
    /// the supply of rounding. Fails on the in-kind follow by the ratio of the prices after and
    /// before (the code before): the mark's distance to a price with a down asset at its last
    /// good value scaled with it.
    function _checkStayersChargedAsIfNobodyLeft(ExitProbe memory pa, ExitProbe memory pb) internal {
        uint256 allowed = Math.mulDiv(pb.perShareStaying, pa.afterPenalty, pa.burnedOf);
        allowed += pb.perShareStaying / 1e6 + Math.mulDiv(10, 1e18, pa.supply);
        if (pa.perShareStaying > allowed && bytes(leftBehindChargedPerShare).length == 0) {
            leftBehindChargedPerShare = "a share that stayed was charged fee on value an exit left behind";
        }
    }

    /// @dev One run of exitLeavesNoFee's probe, read before the state is put back.
    struct ExitProbe {
        bool ok; // the exit (if any) and the mark after the outage went through
        uint256 perf; // the performance fee charged
        uint256 mgmt; // the management fee charged
        uint256 supply; // the holders' shares after the run (its fee shares left out)
        uint256 perShareStaying; // the performance fee a share that stays paid, in 1e-18 base units
        uint256 afterPenalty; // in kind: the supply with the virtual shares less the shares paid for
        uint256 burnedOf; // in kind: that supply less the shares burned (both 1 otherwise)
    }

    /// @dev The probe's run: `a`'s exit of `shares` (none for address 0), then the outage's end
    /// and eve's mark.
    function _withTheExit(address a, uint256 shares, uint256 mode, uint256 i, int256 answer)
        internal
        returns (ExitProbe memory r)
    {
        uint256 before = vault.totalSupply();
        vm.recordLogs();
        r.ok = a == address(0) || _probeExit(a, shares, mode, tokens[(i + 1) % tokens.length]);
        // the exit's own accrual, charged on the supply before it (getRecordedLogs consumes)
        (uint256 mgmt, uint256 perf, uint256 feeShares) = _feesIn(vm.getRecordedLogs());
        (r.afterPenalty, r.burnedOf) = (1, 1);
        if (a != address(0) && mode & 6 != 0) {
            uint256 supply = before + feeShares + 1e6; // as the vault's _inKind: with the virtual shares
            uint256 burned = supply - 1e6 - vault.totalSupply();
            r.afterPenalty = supply - Math.mulDiv(burned, 10_000 - vault.IN_KIND_PENALTY_BPS(), 10_000);
            r.burnedOf = supply - burned;
        }
        if (perf != 0) r.perShareStaying = Math.mulDiv(perf, 1e18, before);
        uint256 atMark = vault.totalSupply();
        r.ok = _endOutageAndMark(i, answer) && r.ok;
        (uint256 m, uint256 p, uint256 sh) = _feesIn(vm.getRecordedLogs());
        r.perShareStaying += Math.mulDiv(p, 1e18, atMark);
        (r.mgmt, r.perf) = (mgmt + m, perf + p);
        r.supply = vault.totalSupply() - feeShares - sh; // the holders' shares: the run's fee shares left out
    }

    /// @dev The other side of an exit's follow: the high-water mark rises by the exit's own
    /// price effect (added to the mark), so the holders who stay pay the same performance fee
    /// per share as with no exit. Less than that is fee the recipient forwent on their own
    /// gain, beyond: a millionth and 10 base units over the supply of rounding, and the
    /// performance rate times 5/4 of the management fee per share charged with the exit (the exit
    /// accrues the management fee owed up to it, whose shares lower the price the mark after
    /// compares with the high-water mark; with no exit the mark charges both on one price).
    function _checkNoFeeForgone(ExitProbe memory pa, ExitProbe memory pb) internal {
        if (pb.perf != 0) ++leftBehindFeeProbes;
        uint256 perShareA = Math.mulDiv(pa.perf, 1e18, pa.supply);
        uint256 perShareB = Math.mulDiv(pb.perf, 1e18, pb.supply);
        // the exit's fee shares lower the price by mgmt / supply times value / (value - mgmt):
        // at most 5/4 of mgmt / supply (an accrual's fee is at most a fifth of the value)
        uint256 byMgmt = Math.mulDiv(pa.mgmt, 1e18 * 5, pa.supply * 4) * vault.MAX_PERFORMANCE_FEE_BPS() / 10_000;
        uint256 slack = perShareB / 1e6 + Math.mulDiv(10, 1e18, pa.supply) + byMgmt;
        if (perShareA + slack < perShareB && bytes(leftBehindForgone).length == 0) {
            leftBehindForgone = "an exit's follow made the recipient forgo fee on the holders' own gain";
        }
    }

    /// @dev The keeper sells half the fund's units of `token` at any price (the move limits
    /// still apply): whether the sale went through.
    function _keeperSells(address token) internal returns (bool ok) {
        uint256 units = _balanceOf(token, address(controller)) / 2;
        if (units == 0) return false;
        vm.prank(keeper);
        try controller.redeemAsset(token, units, 0) {
            ok = true;
        } catch {}
    }

    /// @dev Inside a probe (put back after it): the high-water mark at the fund's price at its
    /// last mark's valuation, so that value the probe's step should leave uncharged would show
    /// as a rise above it (a fund below its mark hides any such fee).
    function _hwmAtTheMarkPrice() internal {
        (uint256 l2, uint256 l3) = controller.markedValues();
        uint256 p = Math.mulDiv(vault.freeCash() + l2 + l3 + 1, 1e24, vault.totalSupply() + vault.pendingFeeShares() + 1e6);
        vm.store(address(vault), _HWM_SLOT, bytes32(p));
    }

    /// @notice A transfer made outside the vault is never charged, whatever step of ours meets
    /// it first. eve sends the vault `donation` of cash, a keeper move follows (`which`: a buy
    /// up to all the available cash, so past the book, a sale, the buffer's rebalance, a
    /// waterfall), then eve marks; played again with eve's mark between the transfer and the
    /// move (the vault sees the donation first, the order the earlier donation tests used),
    /// both from a fresh mark. The recipient is minted no more performance fee the first way. Fails with a move's mark
    /// taking the whole free cash into the book (the code before: the donation a move met was
    /// taken for a rise, a fifth of it charged) and with a pull past the book stopping the book
    /// at 0 with no lift (TieredVault._bookCashOut).
    function donationLeavesNoFee(uint256 which, uint256 tokenSeed, uint256 amount, uint256 donation) external {
        if (feeRecipient == address(0) || _closed() || heldAssetDown()) return;
        donation = bound(donation, 1, 100_000 * unit);
        uint256 snap = vm.snapshotState();
        // a fresh mark first, so that both orders start from the feeds' answers now with every
        // fee owed accrued: only the donation differs between them (a move's sale at its
        // venue's rate, the feed's answer moved since the last mark and the management fee's
        // time are then the same both ways)
        vm.prank(eve);
        try controller.mark() {} catch {
            vm.revertToState(snap);
            return;
        }
        _hwmAtTheMarkPrice();
        uint256 base = vm.snapshotState();
        (bool okA, uint256 perfA) = _donateMoveMark(which, tokenSeed, amount, donation, false);
        vm.revertToState(base);
        (bool okB, uint256 perfB) = _donateMoveMark(which, tokenSeed, amount, donation, true);
        vm.revertToState(snap);
        if (!okA || !okB) return;
        ++donationProbes;
        if (perfA > perfB + perfB / 1e6 + 10 && bytes(donationCharged).length == 0) {
            donationCharged = "a fee was minted on a donation a keeper move met";
        }
    }

    /// @dev donationLeavesNoFee's steps: whether they all went through, and the performance fee
    /// they charged.
    function _donateMoveMark(uint256 which, uint256 tokenSeed, uint256 amount, uint256 donation, bool seenFirst)
        internal
        returns (bool ok, uint256 perf)
    {
        vm.recordLogs();
        cash.mint(address(vault), donation);
        if (seenFirst) {
            vm.prank(eve);
            try controller.mark() {} catch {
                return (false, 0);
            }
        }
        address token = tokens[tokenSeed % tokens.length];
        which = which % 4;
        vm.startPrank(keeper);
        if (which == 0) {
            amount = bound(amount, 1, vault.availableCash());
            (ok,) = address(controller).call(abi.encodeCall(controller.allocateToLayer, (uint8(1 + amount % 2), amount)));
        } else if (which == 1) {
            amount = bound(amount, 1, _balanceOf(token, address(controller)) + 1);
            (ok,) = address(controller).call(abi.encodeCall(controller.redeemAsset, (token, amount, 0)));
        } else if (which == 2) {
            (ok,) = address(controller).call(abi.encodeCall(controller.rebalanceBuffer, ()));
        } else {
            amount = bound(amount, 1, 1_000_000 * unit);
            (ok,) = address(controller).call(abi.encodeCall(controller.executeWaterfallLiquidation, (amount, 2)));
        }
        vm.stopPrank();
        if (!ok) return (false, 0);
        vm.prank(eve);
        try controller.mark() {} catch {
            return (false, 0);
        }
        perf = _perfCharged();
    }

    /// @notice A keeper's move made while a held asset's feed is down is booked as the same
    /// move with the feed up (a probe: the state is put back after it). From the state as it
    /// is, every feed up (a mark first, in the same block, drawn; always for an exit), the
    /// high-water mark at the mark's price: (A) a held asset's feed answers 0, one step of a
    /// drawn kind (a purchase, a sale, allocateToLayer, rebalanceBuffer, a waterfall, the
    /// asynchronous RWA's settlement with its redemption pending, or a holder's cash exit), the
    /// feed answers again and eve marks; (B) the same steps with the feed up throughout.
    /// - The outage mints the recipient no more performance fee (the holders' side), and leaves
    ///   the high-water mark no further above the fund's price after the last mark (the
    ///   recipient's side: the fund's own cash taken for a donation), beyond the rounding below.
    /// - The step leaves its own cash in the fee book by its end: a step is a transaction of its
    ///   own, whose transient storage is gone after it, but the probe's steps are one (cash left
    ///   only in the controller's transient slot would be booked by the probe's own last mark).
    /// - Like for like: a move sized on the valuation with the asset at zero (an allocation, the
    ///   buffer's rebalance, a waterfall) may trade otherwise in A; B then makes A's trades, each
    ///   an explicit purchase or sale, and is compared only when the holdings are the same. An
    ///   exit pays less in an outage (what it leaves is the holders'): compared as is, the
    ///   mark's excess over the price being what must not differ. The management fee's time is
    ///   the same both ways (one block).
    /// Fails on the code before 3e9b107 in the fast profile's first call: a sale in an outage in
    /// a mark's block was accrued at the kept mark (its cash counted twice and charged), and a
    /// settlement whose mark was refused left its cash out of the book.
    function outageMoveLeavesNoFee(uint256 kind, uint256 tokenSeed, uint256 amount, uint256 seed) external {
        if (feeRecipient == address(0) || _closed() || heldAssetDown()) return;
        kind = kind % 7;
        uint256 snap = vm.snapshotState();
        uint256 i = (seed >> 8) % tokens.length; // the asset whose feed goes down
        (, int256 answer,,,) = feeds[i].latestRoundData();
        OutageStep memory st = _outageStepSetUp(kind, i, tokenSeed, amount, seed);
        if (!st.ready) {
            vm.revertToState(snap);
            return;
        }
        uint256 base = vm.snapshotState();
        Leg[] memory none;
        OutageRun memory a = _outageRun(true, i, answer, st, none);
        vm.revertToState(base);
        OutageRun memory b = _outageRun(false, i, answer, st, none);
        if (a.ok && b.ok && a.held != b.held && a.legs.length != 0 && kind >= 2 && kind <= 4) {
            // sized on the valuation with the asset at zero, the move traded otherwise: B makes
            // A's trades instead, one explicit purchase or sale each, with the feed up
            vm.revertToState(base);
            b = _outageRun(false, i, answer, st, a.legs);
        }
        vm.revertToState(snap);
        if (a.unbookedGrew || b.unbookedGrew) {
            _latch(outageMoveCharged, "a move left its own cash out of the fee book (a donation to the next mark)");
        }
        if (kind == 0 || kind == 2 || (kind == 3 && a.buyRefused)) {
            // a buy (a purchase, an allocation, the buffer's deploy) is refused while a held
            // feed is down (AssetController._noBuyInAnOutage): it would be bounded on a gross
            // with the asset at zero, and the kept mark would leave it out. Counted as probed
            // when the outage alone refused it; the buffer's raise (a sale) is compared below
            if (kind != 3 && a.ok) _latch(outageMoveCharged, "a buy went through while a held feed was down");
            else if (a.buyRefused && b.ok) ++outageMoveProbesOf[kind];
            return;
        }
        if (!a.ok || !b.ok) return;
        if (kind != 6 && a.held != b.held) return; // not alike
        ++outageMoveProbes;
        ++outageMoveProbesOf[kind];
        // rounding: each price the vault compares (a mark's, a flow's before and after) is
        // floored to a unit of 1e-18 of a share's price; 10 units apart at most, and as fee 10
        // units a share at the supply (the fee is a fifth of it: 1e-11 base units on 1M shares)
        uint256 slack = 10 * (vault.totalSupply() / 1e24 + 1);
        if (a.perf > b.perf + slack) {
            _latch(outageMoveCharged, "a move in an outage minted the recipient more performance fee");
        }
        if (a.excess > b.excess + 10) {
            _latch(outageMoveCharged, "a move in an outage lifted the high-water mark above the price");
        }
    }

    /// @dev One kind of step of outageMoveLeavesNoFee, sized before both runs.
    struct OutageStep {
        bool ready;
        uint256 kind;
        address token;
        uint256 amount;
        address holder;
    }

    /// @dev What one run of outageMoveLeavesNoFee saw: whether every step went through, the
    /// holdings the step left, the performance fee charged and the high-water mark's excess
    /// over the price after the last mark.
    struct OutageRun {
        bool ok;
        bytes32 held;
        uint256 perf;
        uint256 excess;
        Leg[] legs; // the step's trades (Purchased, Redeemed), in order
        bool buyRefused; // the step was a buy the controller refused (MarkWhileFeedDown)
        bool unbookedGrew; // the step left more of the vault's cash out of the book than before it
    }

    /// @dev A trade of the controller's: a purchase of `amount` cash or a sale of `amount` units.
    struct Leg {
        bool sale;
        address token;
        uint256 amount;
    }

    /// @dev Inside the probe: the asynchronous position pending (the settlement's kind), the
    /// mark first (drawn; always for an exit: its high-water mark follows the kept mark's
    /// value, which is the fund's only when the mark is fresh), the high-water mark at the
    /// mark's price, the step sized. Not ready when the asset is not held (no outage) or a
    /// step is refused.
    function _outageStepSetUp(uint256 kind, uint256 i, uint256 tokenSeed, uint256 amount, uint256 seed)
        internal
        returns (OutageStep memory st)
    {
        if (kind == 5 && !_asyncPending(seed)) return st;
        if (kind == 6 || (seed >> 1) & 1 != 0) {
            vm.prank(eve);
            try controller.mark() {} catch {
                return st;
            }
        }
        if (countedUnits(tokens[i]) == 0) return st;
        _hwmAtTheMarkPrice();
        st.kind = kind;
        // another asset than the one down (a trade of it is refused in the outage)
        st.token = tokens[(i + 1 + tokenSeed % (tokens.length - 1)) % tokens.length];
        if (kind == 0 || kind == 2) {
            uint256 avail = vault.availableCash();
            if (avail == 0) return st;
            st.amount = bound(amount, 1, avail);
        } else if (kind == 1) {
            uint256 units = _balanceOf(st.token, address(controller));
            if (units == 0) return st;
            st.amount = bound(amount, 1, units);
        } else if (kind == 4) {
            st.amount = bound(amount, 1, 1_000_000 * unit);
        } else if (kind == 6) {
            st.holder = _actor(seed >> 16);
            uint256 bal = vault.balanceOf(st.holder);
            if (bal == 0) return st;
            st.amount = bound(amount, 1, bal);
        }
        st.ready = true;
    }

    /// @dev One run of the probe: the feed down (`outage`) or not, the step (or, given `replay`,
    /// those trades as the keeper's explicit moves), the feed at its answer again (a new round
    /// both ways), eve's mark.
    function _outageRun(bool outage, uint256 i, int256 answer, OutageStep memory st, Leg[] memory replay)
        internal
        returns (OutageRun memory r)
    {
        vm.recordLogs();
        if (outage) {
            feeds[i].updateAnswer(0);
            (,, bool down_) = controller.pricingValues();
            if (!down_) return r; // a position below the dust value: no outage
        }
        uint256 unbooked = _unbooked();
        _outageBuyRefused = false;
        r.ok = replay.length != 0 ? _replay(replay) : _outageStep(st);
        r.buyRefused = _outageBuyRefused;
        // the step is a transaction of its own: what it left in transient storage is gone at
        // its end (the suite's calls run in one), so its cash must be in the book by then
        r.unbookedGrew = r.ok && _unbooked() > unbooked;
        r.held = _holdings();
        Vm.Log[] memory logs = vm.getRecordedLogs();
        r.perf = _perfIn(logs);
        r.legs = _legsIn(logs);
        feeds[i].updateAnswer(answer);
        vm.recordLogs();
        vm.prank(eve);
        try controller.mark() {} catch {
            r.ok = false;
        }
        r.perf += _perfCharged();
        (uint256 l2, uint256 l3) = controller.markedValues();
        uint256 p = Math.mulDiv(vault.freeCash() + l2 + l3 + 1, 1e24, vault.totalSupply() + 1e6);
        uint256 hwm = vault.highWaterMark();
        r.excess = hwm > p ? hwm - p : 0;
    }

    /// @dev The vault's free cash above its fee book: what the next accrual takes for a transfer
    /// made outside the vault (a donation, never charged: it lifts the high-water mark).
    function _unbooked() internal view returns (uint256) {
        uint256 free = vault.freeCash();
        uint256 book = uint256(vm.load(address(vault), _BOOK_SLOT));
        return free > book ? free - book : 0;
    }

    function _replay(Leg[] memory legs) internal returns (bool ok) {
        for (uint256 k; k < legs.length; ++k) {
            Leg memory l = legs[k];
            vm.prank(keeper);
            (ok,) = address(controller).call(
                l.sale
                    ? abi.encodeCall(controller.redeemAsset, (l.token, l.amount, 0))
                    : abi.encodeCall(controller.purchaseAsset, (l.token, l.amount, 0))
            );
            if (!ok) return false;
        }
    }

    /// @dev The controller's trades in `logs`.
    function _legsIn(Vm.Log[] memory logs) internal view returns (Leg[] memory legs) {
        legs = new Leg[](logs.length);
        uint256 n;
        bytes32 bought = keccak256("Purchased(address,uint256,uint256,bool)");
        bytes32 sold = keccak256("Redeemed(address,uint256,uint256,bool)");
        for (uint256 k; k < logs.length; ++k) {
            bytes32 t = logs[k].topics.length != 0 ? logs[k].topics[0] : bytes32(0);
            if (logs[k].emitter != address(controller) || (t != bought && t != sold)) continue;
            (uint256 amount,,) = abi.decode(logs[k].data, (uint256, uint256, bool));
            legs[n++] = Leg(t == sold, address(uint160(uint256(logs[k].topics[1]))), amount);
        }
        assembly ("memory-safe") {
            mstore(legs, n)
        }
    }

    /// @dev The probe's step: a keeper move, the settlement (anyone's call) or the holder's exit.
    function _outageStep(OutageStep memory st) internal returns (bool ok) {
        if (st.kind == 5) {
            try controller.settle(rwa) {
                ok = true;
            } catch {}
            return ok;
        }
        if (st.kind == 6) {
            uint256 max = vault.maxRedeem(st.holder);
            if (max == 0) return false;
            vm.prank(st.holder);
            try vault.redeem(st.amount < max ? st.amount : max, st.holder, st.holder) {
                ok = true;
            } catch {}
            return ok;
        }
        bytes memory call;
        if (st.kind == 0) call = abi.encodeCall(controller.purchaseAsset, (st.token, st.amount, 0));
        else if (st.kind == 1) call = abi.encodeCall(controller.redeemAsset, (st.token, st.amount, 0));
        else if (st.kind == 2) call = abi.encodeCall(controller.allocateToLayer, (uint8(1 + st.amount % 2), st.amount));
        else if (st.kind == 3) call = abi.encodeCall(controller.rebalanceBuffer, ());
        else call = abi.encodeCall(controller.executeWaterfallLiquidation, (st.amount, 2));
        vm.prank(keeper);
        bytes memory ret;
        (ok, ret) = address(controller).call(call);
        // a buy refused in an outage (AssetController._noBuyInAnOutage)
        _outageBuyRefused = !ok && ret.length == 4 && bytes4(ret) == IAssetControllerTypes.MarkWhileFeedDown.selector;
    }

    /// @dev The last probe step was a buy the controller refused with MarkWhileFeedDown.
    bool internal _outageBuyRefused;

    /// @dev Issue 65, inside a probe (put back after it): the asynchronous RWA listed in L3 (by
    /// the admin) and bought by the keeper, about 2% of the fund's value (seed-sized); it
    /// settles, half its tokens go into redemption and another subscription waits: the
    /// controller holds units and has tokens and cash pending. False where any step is refused
    /// (the fund paused, a feed down, a bound or a budget): the probe is skipped.
    function _asyncPending(uint256 seed) internal returns (bool ok) {
        if (rwa == address(0)) return false;
        rwaFeed.updateAnswer(int256(FEED_ONE)); // fresh at the probe's time
        uint16 bps = controller.assetParams(tokens[0]).maxConcentrationBps;
        vm.prank(admin);
        try controller.addAsset(
            IAssetControllerTypes.AssetParams(rwa, 2, rwaAdapter, address(rwaFeed), uint32(HEARTBEAT), 1, 1e30, type(uint128).max, bps)
        ) {} catch {
            return false;
        }
        uint256 x = vault.totalAssets() * (100 + seed % 200) / 10_000;
        vm.startPrank(keeper);
        try controller.purchaseAsset(rwa, x, 0) {} catch {
            vm.stopPrank();
            return false;
        }
        vm.stopPrank();
        try controller.settle(rwa) {} catch {
            return false;
        }
        uint256 held = TestStablecoin(rwa).balanceOf(address(controller));
        vm.startPrank(keeper);
        try controller.redeemAsset(rwa, held / 2, 0) {} catch {
            vm.stopPrank();
            return false;
        }
        try controller.purchaseAsset(rwa, x / 2, 0) {} catch {
            vm.stopPrank();
            return false;
        }
        vm.stopPrank();
        return held != 0;
    }

    /// @dev The performance fee (in base units, as FeesAccrued states it) the vault charged in
    /// the logs recorded since vm.recordLogs().
    function _perfCharged() internal returns (uint256 perf) {
        return _perfIn(vm.getRecordedLogs());
    }

    /// @dev The performance fee the vault charged in `logs`.
    function _perfIn(Vm.Log[] memory logs) internal view returns (uint256 perf) {
        (, perf,) = _feesIn(logs);
    }

    /// @dev The management and performance fees the vault charged in `logs` (FeesAccrued, in
    /// base units) and the fee shares it minted for them.
    function _feesIn(Vm.Log[] memory logs) internal view returns (uint256 mgmt, uint256 perf, uint256 shares) {
        bytes32 topic = keccak256("FeesAccrued(address,uint256,uint256,uint256,uint256)");
        for (uint256 k; k < logs.length; ++k) {
            if (logs[k].emitter != address(vault) || logs[k].topics[0] != topic) continue;
            (uint256 m, uint256 p, uint256 sh,) = abi.decode(logs[k].data, (uint256, uint256, uint256, uint256));
            (mgmt, perf, shares) = (mgmt + m, perf + p, shares + sh);
        }
    }

    /// @dev The probe's exit: in kind (mode bit 2, or a skipped token: bit 1) or by redeem.
    function _probeExit(address a, uint256 shares, uint256 mode, address skipped) internal returns (bool ok) {
        bool skip = mode & 2 != 0;
        if (skip) vm.mockCallRevert(skipped, abi.encodeWithSelector(IERC20Like.transfer.selector), "frozen");
        if (mode & 4 != 0 || skip) {
            vm.prank(a);
            try vault.redeemInKind(shares, a, a) {
                ok = true;
            } catch {}
        } else {
            uint256 max = vault.maxRedeem(a);
            if (max != 0) {
                vm.prank(a);
                try vault.redeem(shares < max ? shares : max, a, a) {
                    ok = true;
                } catch {}
            }
        }
        if (skip) vm.clearMockedCalls();
    }

    /// @dev Feed i answers `answer` again (if this call took it down) and eve marks: whether
    /// the mark went through.
    function _endOutageAndMark(uint256 i, int256 answer) internal returns (bool ok) {
        if (!down[i]) feeds[i].updateAnswer(answer);
        vm.prank(eve);
        try controller.mark() {
            ok = true;
        } catch {}
    }

    function _checkInKind(InKindBefore memory b, uint256 paid, uint256 n) internal {
        (uint256 v1, uint256 s1) = _atMark();
        // the exit marks itself (SEC5-01): the mark after it is a live valuation, which floors
        // each listed position to a base unit (as the exit price below)
        if ((v1 + n) * b.s0 < b.v0 * s1) _latch(inKindBroken, "an in-kind exit lowered the value per share left at the mark");
        if ((vault.totalAssets() + 1 + n) * b.s0 < b.t0 * s1) {
            _latch(inKindBroken, "an in-kind exit lowered the exit price per share left");
        }
        if (
            vault.claimableRedemptions() != b.claimable || vault.pendingRedemptions() != b.pending
                || vault.balanceOf(address(vault)) != b.locked || cash.balanceOf(address(vault)) != b.bal0 - paid
        ) _latch(inKindQueueBroken, "an in-kind exit changed the queue's books");
        // its part of the free cash: the shares less the penalty (kept by the fund), over the
        // supply with the virtual shares; the reserve is not free cash
        uint256 net = b.shares * (10_000 - vault.IN_KIND_PENALTY_BPS()) / 10_000;
        if (paid > Math.mulDiv(b.free0, net, b.s0)) _latch(inKindQueueBroken, "an in-kind exit took cash beyond its part of the free cash");
    }

    /// @notice eve enters with cash and leaves at once in kind, selling nothing: what she gets,
    /// at the feeds' answers, is never worth more than she paid.
    function inKindRoundTrip(uint256 amount) external {
        if (heldAssetDown()) return; // entries are refused then
        (bool ok, uint256 cost, uint256 shares) = _eveDeposits(amount);
        if (!ok) return;
        if (shares != 0) {
            vm.prank(eve);
            (uint256 paid, address[] memory list, uint256[] memory amounts) = vault.redeemInKind(shares, eve, eve);
            cashOut += paid;
            eveReceived += paid;
            ++inKindExits;
            if (_worth(paid, list, amounts) > cost) _latch(inKindBroken, "an in-kind round trip profited");
        }
        _count("inKindRoundTrip");
    }

    /// @notice eve tries every privileged path; each must revert.
    function eveTriesPrivileged(uint256 which, uint256 amount) external checksReferences {
        amount = bound(amount, 1, 1_000_000 * unit);
        address token = tokens[amount % tokens.length];
        vm.startPrank(eve);
        bool ok;
        which = which % 11;
        if (which == 0) (ok,) = address(controller).call(abi.encodeCall(controller.allocateToLayer, (1, amount)));
        else if (which == 1) (ok,) = address(controller).call(abi.encodeCall(controller.purchaseAsset, (token, amount, 0)));
        else if (which == 2) (ok,) = address(controller).call(abi.encodeCall(controller.redeemAsset, (token, amount, 0)));
        else if (which == 3) (ok,) = address(controller).call(abi.encodeCall(controller.rebalanceBuffer, ()));
        else if (which == 4) (ok,) = address(controller).call(abi.encodeCall(controller.executeWaterfallLiquidation, (amount, 2)));
        else if (which == 5) (ok,) = address(controller).call(abi.encodeCall(controller.rebalance, (true)));
        else if (which == 6) (ok,) = address(vault).call(abi.encodeCall(vault.pullCash, (eve, amount)));
        else if (which == 7) (ok,) = address(vault).call(abi.encodeCall(vault.fulfilRedemptions, (10)));
        else if (which == 8) (ok,) = address(controller).call(abi.encodeCall(controller.useFallbackFeed, (token)));
        else if (which == 9) (ok,) = address(controller).call(abi.encodeCall(controller.cashLeftBand, ()));
        else (ok,) = address(vault).call(abi.encodeCall(vault.noteMark, (0, amount, type(uint96).max, amount, true)));
        vm.stopPrank();
        // issue 67: once closed, anyone funds the queue (at the fixed price)
        if (ok && !(which == 7 && _closed())) _fail("eve ran a keeper/admin/guardian function");
    }

    /* -------------------------------------------------- the compromised keeper */

    /// @notice The review's split: the keeper key behind the executor cuts its moves into many
    /// one-action plans under the per-plan threshold, none signed (the owners are not there).
    /// What each executed action booked is recorded; the executor must hold the window total.
    function keeperSplitsPlans(uint256 tokenSeed, uint256 amount, uint256 parts) external checksReferences {
        if (address(executor) == address(0)) return;
        parts = bound(parts, 1, 8);
        address token = tokens[tokenSeed % tokens.length];
        for (uint256 p; p < parts; ++p) {
            bytes memory action;
            if (p % 2 == 0) {
                uint256 cashNow = vault.availableCash();
                if (cashNow == 0) continue;
                uint256 a = bound(amount, 1, cashNow);
                action = abi.encodeCall(controller.purchaseAsset, (token, a, 0));
            } else {
                uint256 held = _balanceOf(token, address(controller));
                if (held == 0) continue;
                action = abi.encodeCall(controller.redeemAsset, (token, bound(amount, 1, held), 0));
            }
            bytes32[] memory hashes = new bytes32[](1);
            hashes[0] = keccak256(action);
            // minOut 0 with the widest band: this handler splits plans, it does not price them
            uint16[] memory bands = new uint16[](1);
            bands[0] = 10_000;
            IPlanExecutor.PlanHeader memory h = IPlanExecutor.PlanHeader(
                keccak256(abi.encode("split", ++_planNonce)),
                address(controller),
                uint64(block.timestamp + 1 hours),
                bands
            );
            (, uint256 usedBefore) = controller.budgetUsage();
            vm.prank(planKeeper);
            try executor.executeAction(h, 0, action, hashes, new bytes[](0)) {
                (, uint256 usedAfter) = controller.budgetUsage();
                unsignedAt.push(block.timestamp);
                unsignedNotional.push(usedAfter - usedBefore);
                _count("keeperSplitsPlans");
            } catch {}
        }
    }

    /// @notice eve fills the capped venue's headroom (a deposit of its maxDeposit, or part of
    /// it) or drains some of what she put in, between any two calls (fourth review): no move
    /// may revert with the venue's own cap error (checked in keeperMove).
    function eveCap(uint256 amount, bool fill) external checksReferences {
        if (capped == address(0)) return;
        TestMoneyMarketFund v = TestMoneyMarketFund(capped);
        if (fill) {
            uint256 room = v.maxDeposit(eve);
            if (room == 0) return;
            // half the time to the cap exactly (the review's attack), else some of the room
            amount = amount % 2 == 0 ? room : bound(amount, 1, room);
            cash.mint(eve, amount);
            vm.startPrank(eve);
            cash.approve(capped, amount);
            v.deposit(amount, eve);
            vm.stopPrank();
            cashIn += amount;
            eveSpent += amount;
            ++capFills;
        } else {
            uint256 max = v.maxWithdraw(eve);
            if (max == 0) return;
            amount = bound(amount, 1, max);
            vm.prank(eve);
            v.withdraw(amount, eve, eve);
            cashOut += amount;
            eveReceived += amount;
        }
        _count("eveCap");
    }

    /// @notice Fourth review: an outsider's plain transfer of a listed asset (to the controller
    /// or the vault) or of the base coin (to the controller) never changes whether a rebalance
    /// moves or what it moves. The same run (the keeper's or the scheduled one, forced or not)
    /// from the same state, once without and once after eve's transfer: the same answer and the
    /// same holdings, the transferred units aside.
    function outsiderTransferBeforeRun(uint256 seed, uint256 amount, bool force, bool scheduled) external checksReferences {
        uint256 k = seed % (tokens.length + 1); // tokens.length: the base coin
        bool toVault = k < tokens.length && (seed / 16) % 2 == 1;
        address token = k == tokens.length ? address(cash) : tokens[k];
        address to = toVault ? address(vault) : address(controller);
        amount = bound(amount, 1, 50_000 * unit);
        // eve's units first, in both branches: her deposit into a venue moves its rounding
        cash.mint(eve, amount);
        uint256 units = amount;
        if (token != address(cash)) {
            vm.startPrank(eve);
            cash.approve(token, amount);
            units = TestMoneyMarketFund(token).deposit(amount, eve);
            vm.stopPrank();
            cashIn += amount; // in the venue, counted with the fund's (the base coin stays eve's)
            eveSpent += amount;
        }
        address caller = keeper;
        if (scheduled) caller = address(uint160(uint256(keccak256("fund.scheduled.rebalancer"))));
        uint256 snap = vm.snapshotState();
        bytes32 r1 = _runOnce(caller, force, address(0), 0);
        vm.revertToState(snap);
        vm.prank(eve);
        TestStablecoin(token).transfer(to, units);
        // the holdings with eve's units taken out again (a listed asset sent to the vault is in
        // no holding the fund counts)
        bytes32 r2 = _runOnce(caller, force, toVault ? address(0) : token, units);
        // a probe: back to before both runs (eve keeps her units), then the ghosts
        vm.revertToState(snap);
        ++transferProbes;
        if (r1 != r2) _latch(transferMoved, "an outsider's transfer changed a rebalance");
        _count("outsiderTransferBeforeRun");
    }

    /// @dev A venue's own cap error (OpenZeppelin's ERC4626ExceededMaxDeposit), which no move
    /// but an explicit purchaseAsset (the keeper's own sized leg) may revert with.
    function _isCapError(bytes memory ret) internal pure returns (bool) {
        return ret.length >= 4
            && bytes4(ret) == bytes4(keccak256("ERC4626ExceededMaxDeposit(address,uint256,uint256)"));
    }

    /// @dev The controller's concentration errors (top-3, single-asset).
    /// @dev Some listed venue sells a million base units' worth for more than 1/0.99 of that at
    /// its feed (a feed stepped up past its venue's rate and accepted, or within its bound).
    function _aVenueUnderItsFeed() internal view returns (bool) {
        uint256 cashIn = 1_000_000 * unit;
        for (uint256 i; i < tokens.length; ++i) {
            (bool ok, bytes memory r) = tokens[i].staticcall(abi.encodeWithSignature("previewDeposit(uint256)", cashIn));
            if (!ok || r.length < 32) continue;
            (, int256 answer,,,) = feeds[i].latestRoundData();
            if (answer <= 0) continue;
            uint256 worth = Math.mulDiv(abi.decode(r, (uint256)), uint256(answer), FEED_ONE);
            if (worth * 9_900 > cashIn * 10_000) return true;
        }
        return false;
    }

    function _isConcentrationError(bytes memory ret) internal pure returns (bool) {
        return ret.length >= 4
            && (bytes4(ret) == IAssetControllerTypes.Top3ConcentrationExceeded.selector
                || bytes4(ret) == IAssetControllerTypes.ConcentrationExceeded.selector);
    }

    /// @dev One rebalance by `caller`: a hash of whether it went through, what it answered (or
    /// reverted with) and, when it went through, the holdings less `less` units of `token`.
    function _runOnce(address caller, bool force, address token, uint256 less) internal returns (bytes32) {
        vm.prank(caller);
        (bool ok, bytes memory ret) = address(controller).call(abi.encodeCall(controller.rebalance, (force)));
        return keccak256(abi.encode(ok, ret, ok ? _holdingsLess(token, less) : bytes32(0)));
    }

    /// @dev _holdings with `less` units of `token` (0: none) taken from the controller's balance.
    function _holdingsLess(address token, uint256 less) internal view returns (bytes32 h) {
        uint256 c = _balanceOf(address(cash), address(controller));
        if (token == address(cash)) c -= less;
        h = keccak256(abi.encode(_balanceOf(address(cash), address(vault)), c));
        for (uint256 i; i < tokens.length; ++i) {
            uint256 b = _balanceOf(tokens[i], address(controller));
            if (tokens[i] == token) b -= less;
            h = keccak256(abi.encode(h, b));
        }
    }

    /// @notice The keeper key moves whatever it likes, sized anyhow, with no quoted minimum. What
    /// each move loses at unchanged prices is measured here (fundValue before - after).
    function keeperMove(uint256 which, uint256 tokenSeed, uint256 amount) external checksReferences {
        uint256 i = tokenSeed % tokens.length;
        address token = tokens[i];
        uint256 valueBefore = fundValue();
        uint256 before = pps();
        uint64 markedBefore = controller.markedAt();
        // a venue selling under its feed past the deploy's 1% headroom: a buy there gains at the
        // oracle more than the room left for it, and the concentration check (at the oracle,
        // test_buy_guards_once) refuses the move by design, a refusal not a cut (read before the
        // move: nothing in it moves a feed or a venue's rate)
        bool gainPast = _aVenueUnderItsFeed();
        vm.startPrank(keeper);
        which = which % 7;
        bool ok;
        bytes memory ret;
        if (which == 0) {
            amount = bound(amount, 1, vault.availableCash() + 1);
            (ok, ret) = address(controller).call(abi.encodeCall(controller.allocateToLayer, (uint8(1 + amount % 2), amount)));
        } else if (which == 1) {
            amount = bound(amount, 1, vault.availableCash() + 1);
            (ok, ret) = address(controller).call(abi.encodeCall(controller.purchaseAsset, (token, amount, 0)));
        } else if (which == 2) {
            amount = bound(amount, 1, _balanceOf(token, address(controller)) + 1);
            (ok, ret) = address(controller).call(abi.encodeCall(controller.redeemAsset, (token, amount, 0)));
        } else if (which == 3) {
            (ok, ret) = address(controller).call(abi.encodeCall(controller.rebalanceBuffer, ()));
        } else if (which == 4) {
            amount = bound(amount, 1, 1_000_000 * unit);
            (ok, ret) = address(controller).call(abi.encodeCall(controller.executeWaterfallLiquidation, (amount, 2)));
        } else if (which == 5) {
            bool outage = heldAssetDown();
            bytes32 held = _holdings();
            (ok, ret) = address(controller).call(abi.encodeCall(controller.rebalance, (amount % 2 == 0)));
            // a run sized on a valuation with a held asset at zero moves nothing (issue 45)
            if (ok && outage && _holdings() != held) {
                _latch(outageMoved, "a rebalance moved money during an outage");
            }
        } else {
            uint256 next = vault.nextRequestToFulfil();
            bool outage = heldAssetDown();
            (ok, ret) = address(vault).call(abi.encodeCall(vault.fulfilRedemptions, (amount % 20)));
            if (ok) _checkPps(before, "share price fell on a fulfilment");
            // an outage decides nothing: no request funded while a held feed is down
            if (ok && outage && vault.nextRequestToFulfil() != next) _fail("a request was funded during an outage");
        }
        vm.stopPrank();
        if (!ok && which != 1 && _isCapError(ret)) {
            _latch(capReverted, "a move reverted on a venue's cap");
        }
        // SEC5-03: a deploy (allocateToLayer, rebalanceBuffer, rebalance) is cut under every
        // concentration bound, never reverted by one
        if (!ok && (which == 0 || which == 3 || which == 5) && _isConcentrationError(ret) && !gainPast) {
            _latch(capReverted, "a deploy reverted on a concentration bound");
        }
        if (ok && which != 6 && heldAssetDown() && controller.markedAt() != markedBefore) {
            _fail("a keeper move took a mark during an outage");
        }
        if (!ok) return;
        _count("keeperMove");
        uint256 valueAfter = fundValue();
        if (valueAfter < valueBefore) {
            lossAt.push(block.timestamp);
            lossAmount.push(valueBefore - valueAfter);
        }
    }

    /// @notice The keeper key churns one position (buy, then sell what it bought) up to three
    /// times in a call: at any gap between the feed and the fund's real redemption value every
    /// round trip loses value at oracle prices, which only the window budget stops.
    function keeperChurn(uint256 tokenSeed, uint256 amount, uint256 rounds) external checksReferences {
        address token = tokens[tokenSeed % tokens.length];
        rounds = bound(rounds, 1, 3);
        uint256 valueBefore = fundValue();
        vm.startPrank(keeper);
        for (uint256 r; r < rounds; ++r) {
            uint256 avail = vault.availableCash();
            if (avail == 0) break;
            uint256 spend = bound(amount, 1, avail);
            uint256 held = TestStablecoin(token).balanceOf(address(controller));
            try controller.purchaseAsset(token, spend, 0) {
                uint256 bought = TestStablecoin(token).balanceOf(address(controller)) - held;
                try controller.redeemAsset(token, bought, 0) {} catch { break; }
            } catch {
                break;
            }
        }
        vm.stopPrank();
        _count("keeperChurn");
        uint256 valueAfter = fundValue();
        if (valueAfter < valueBefore) {
            lossAt.push(block.timestamp);
            lossAmount.push(valueBefore - valueAfter);
        }
    }

    /* ------------------------------------------------------ market and time */

    /// @notice A feed moves by up to 3% either way from par.
    function marketMove(uint256 seed, uint256 bps) external checksReferences {
        uint256 i = seed % feeds.length;
        if (down[i]) return;
        bps = bound(bps, 9_700, 10_300);
        feeds[i].updateAnswer(int256(FEED_ONE * bps / 10_000));
    }

    /// @notice A feed steps 15% up or down at once (an error, a manipulated push, a NAV
    /// restatement: issue 54); a later marketMove may take it back.
    function stepFeed(uint256 seed, bool up) external checksReferences {
        uint256 i = seed % feeds.length;
        if (down[i]) return;
        (, int256 answer,,,) = feeds[i].latestRoundData();
        feeds[i].updateAnswer(answer * (up ? int256(115) : int256(85)) / 100);
        (bool held,,,,,,,) = controller.priceHold(tokens[i]);
        if (held) ++stepsHeld;
        _count("stepFeed");
    }

    /// @notice The guardian confirms a feed's answer (acceptPrice): its reference moves to it.
    function guardianAccepts(uint256 seed) external checksReferences {
        uint256 i = seed % feeds.length;
        try controller.acceptPrice(tokens[i]) {
            _accepted[i] = true;
            _count("acceptPrice");
        } catch {}
    }

    /// @notice A feed stops reporting: its last round is older than the heartbeat.
    function feedDown(uint256 seed) external checksReferences {
        uint256 i = seed % feeds.length;
        if (down[i]) return;
        // exits must carry on while it is down (checked here, then by the actions)
        (, int256 answer,,,) = feeds[i].latestRoundData();
        uint80 round = uint80(feeds[i].latestRound() + 1);
        uint256 stale = block.timestamp - HEARTBEAT - 1;
        feeds[i].updateRoundData(round, answer, stale, stale);
        down[i] = true;
        _count("feedDown");
        _exitsStillWork();
    }

    function feedUp(uint256 seed) external checksReferences {
        uint256 i = seed % feeds.length;
        if (!down[i]) return;
        (, int256 answer,,,) = feeds[i].latestRoundData();
        feeds[i].updateAnswer(answer);
        down[i] = false;
        // the keeper fulfils the queue once the feed is back: requests made during the outage
        // were estimated at its conservative value and must not be paid the recovery
        uint256 before = pps();
        vm.prank(keeper);
        vault.fulfilRedemptions(20);
        _checkPps(before, "share price fell on a fulfilment");
    }

    /// @notice Time passes (up to two days); live feeds report again, down ones stay down.
    function passTime(uint256 secs) external checksReferences {
        _passTime(secs, 60, 2 days);
        _refreshFeeds();
    }

    /// @dev After time passed: live feeds report again, down ones stay down (stale).
    function _refreshFeeds() internal {
        for (uint256 i; i < feeds.length; ++i) {
            (, int256 answer,,,) = feeds[i].latestRoundData();
            if (down[i]) {
                uint80 round = uint80(feeds[i].latestRound() + 1);
                uint256 stale = block.timestamp - HEARTBEAT - 1;
                feeds[i].updateRoundData(round, answer, stale, stale);
            } else {
                feeds[i].updateAnswer(answer);
            }
        }
    }

    /// @dev With a feed down: every view answers, and a holder can still leave through the
    /// queue (and through cash, up to maxRedeem).
    function _exitsStillWork() internal {
        try vault.totalAssets() returns (uint256) {} catch { _fail("totalAssets reverted with a feed down"); }
        for (uint256 k; k < actors.length; ++k) {
            address a = actors[k];
            uint256 bal = vault.balanceOf(a);
            if (bal == 0) continue;
            uint256 max;
            try vault.maxRedeem(a) returns (uint256 m) {
                max = m;
            } catch {
                _fail("maxRedeem reverted with a feed down");
            }
            if (max != 0) {
                uint256 shares = max / 2 + 1;
                vm.prank(a);
                try vault.redeem(shares, a, a) returns (uint256 assets) {
                    cashOut += assets;
                    if (a == eve) eveReceived += assets;
                } catch {
                    _fail("redeem reverted with a feed down");
                }
            }
            bal = vault.balanceOf(a);
            // once closed (issue 67) the queue takes no request: redeem above is the exit
            if (bal != 0 && !_closed() && vault.previewRedeem(bal) != 0) {
                vm.prank(a);
                try vault.requestRedeem(bal, a, a) returns (uint256 id) {
                    _requestIds.push(id);
                    estimateAtRequest[id] = vault.redeemRequest(id).assets;
                } catch {
                    _fail("requestRedeem reverted with a feed down");
                }
            }
            return; // one holder per outage keeps the fund populated for later calls
        }
    }
}
