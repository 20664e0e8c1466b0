// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {InvariantBase, Vm} from "./support/InvariantBase.sol";
import {TestMockERC20} from "./support/TestMockERC20.sol";
import {TestValuationController} from "./support/TestValuationController.sol";
import {TieredVault} from "../../contracts/fund/TieredVault.sol";

/// @notice The project's ERC-4626 property suite: the clauses of EIP-4626 (deposit, mint,
/// withdraw, redeem, their previews, convertTo*, max*, totalAssets) as fuzzed properties over
/// TieredVault, written from the EIP's text. Each run builds a fuzzed world (two holders'
/// deposits, part of one holder's shares queued and perhaps funded, a gain or a loss of the
/// vault's cash, up to a month passing, and in the priced instance an invested valuation with
/// an entry/exit spread and perhaps a feed down), then checks one clause against it. With fees
/// on, both rates sit at their caps and the month makes every call accrue, so the previews must
/// count the fee shares an accrual would mint now.
///
/// Prices: the vault prices with OpenZeppelin's virtual offset, one asset and 10^6 shares
/// beside the real ones, so "exact" below means at (assets + 1) / (supply + 10^6), with the
/// supply counting the fee shares pending now and the assets at the entry valuation (high) for
/// deposit/mint and the exit valuation (totalAssets) for everything else.
abstract contract ERC4626Props is InvariantBase {
    using Strings for uint256;

    uint256 private constant _OFFSET = 1e6; // 10 ** TieredVault.DECIMALS_OFFSET

    TieredVault internal vault;
    TestMockERC20 internal token;
    TestValuationController internal valuation; // only in the priced instance
    address internal carol = address(0xCA401); // comes in during the property
    address internal feeRecipient = address(0xFEE);

    /// @dev The instance: the base token's decimals, both fees at their caps or off, and the
    /// invested valuation (the priced instance) or none.
    uint8 private immutable _dec;
    bool private immutable _fees;
    bool private immutable _pricedOn;

    constructor(uint8 decimals_, bool feesOn_, bool priced_) {
        (_dec, _fees, _pricedOn) = (decimals_, feesOn_, priced_);
    }

    function _decimals() internal view returns (uint8) {
        return _dec;
    }

    function _feesOn() internal view returns (bool) {
        return _fees;
    }

    function _priced() internal view returns (bool) {
        return _pricedOn;
    }

    /// @dev The fuzzed world a property is checked in (see the contract's notice).
    struct World {
        uint256 alice; // assets alice deposits (log-scaled: see _amount)
        uint256 bob;
        uint256 queueBps; // share of bob's shares he queues (requestRedeem)
        bool fund; // the keeper funds the queue (cash reserved for claims)
        uint256 secs; // time passing after the flows, up to a month
        uint256 gain; // assets minted to the vault after the month
        uint256 lossBps; // share of the vault's cash burned after the month
        uint256 invested; // priced instance: the exit valuation (low)
        uint256 spreadBps; // priced instance: high = low * (1 + spread), spread up to 5%
        uint8 feed; // priced instance: 0 (one run in four) = a held asset's feed is down
    }

    function setUp() public {
        vm.warp(1_750_000_000);
        vm.roll(1_000);
        token = new TestMockERC20(_decimals());
        vault = new TieredVault(IERC20(address(token)), "Ballast Fund Share", "bFUND", address(this));
        vault.grantRole(vault.KEEPER_ROLE(), address(this));
        if (_priced()) {
            valuation = new TestValuationController();
            vault.setController(address(valuation));
        }
        if (_feesOn()) {
            vault.setFeeRecipient(feeRecipient);
            vault.setFees(uint16(vault.MAX_MANAGEMENT_FEE_BPS()), uint16(vault.MAX_PERFORMANCE_FEE_BPS()));
        }
    }

    /* THE WORLD */

    /// @dev Assets, log-uniform from 0 to 10^12 whole tokens: the low byte picks the magnitude,
    /// so dust, single units and whole-fund sizes are all drawn.
    function _amount(uint256 x) internal view returns (uint256) {
        return bound(x >> 8, 0, 10 ** bound(x & 0xff, 0, 12 + _decimals()));
    }

    /// @dev Shares, log-uniform likewise (a share is 10^-6 of a base unit at the first price).
    function _shareAmount(uint256 x) internal view returns (uint256) {
        return bound(x >> 8, 0, 10 ** bound(x & 0xff, 0, 18 + _decimals()));
    }

    function _world(World memory w) internal {
        _enter(alice, _amount(w.alice));
        _enter(bob, _amount(w.bob));
        uint256 queued = vault.balanceOf(bob) * bound(w.queueBps, 0, 10_000) / 10_000;
        // the queue's books are uint96 (7.9e28 base units): a larger request is refused by design
        uint256 estimate = vault.previewRedeem(queued);
        if (estimate != 0 && estimate <= type(uint96).max / 2) {
            vm.prank(bob);
            vault.requestRedeem(queued, bob, bob);
            if (w.fund) vault.fulfilRedemptions(10);
        }
        _passTime(w.secs, 0, 31 days);
        uint256 gain = _amount(w.gain);
        if (gain != 0) token.mint(address(vault), gain);
        uint256 bal = token.balanceOf(address(vault));
        uint256 loss = bal * bound(w.lossBps, 0, 10_000) / 10_000;
        if (loss != 0) token.burn(address(vault), loss);
        if (_priced()) {
            uint256 low = _amount(w.invested);
            valuation.set(low, low + low * bound(w.spreadBps, 0, 500) / 10_000, w.feed % 4 == 0);
        }
    }

    function _enter(address who, uint256 assets) internal {
        if (assets == 0) return;
        token.mint(who, assets);
        vm.startPrank(who);
        token.approve(address(vault), assets);
        vault.deposit(assets, who);
        vm.stopPrank();
    }

    function _fund(address who, uint256 assets) internal {
        token.mint(who, assets);
        vm.prank(who);
        token.approve(address(vault), assets);
    }

    /// @dev The supply a preview prices with: the shares now and the fee shares pending.
    function _supplyNow() internal view returns (uint256) {
        return vault.totalSupply() + vault.pendingFeeShares();
    }

    /// @dev The assets deposit/mint price at: totalAssets with the invested part at its
    /// entry valuation.
    function _entryAssets() internal view returns (uint256) {
        if (!_priced()) return vault.totalAssets();
        return vault.totalAssets() - valuation.low() + valuation.high();
    }

    function _downFeed() internal view returns (bool) {
        return _priced() && valuation.down();
    }

    /* CHECKS */

    function _check(bool ok, string memory property) internal pure {
        if (!ok) revert(property);
    }

    function _eq(uint256 a, uint256 b, string memory property) internal pure {
        if (a != b) revert(string.concat(property, ": ", a.toString(), " != ", b.toString()));
    }

    function _le(uint256 a, uint256 b, string memory property) internal pure {
        if (a > b) revert(string.concat(property, ": ", a.toString(), " > ", b.toString()));
    }

    /// @dev The one log `sig` the vault emitted in the recorded call: its non-indexed words.
    function _vaultEvent(bytes32 sig) internal returns (bytes32[] memory topics, bytes memory data) {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 found;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == address(vault) && logs[i].topics[0] == sig) {
                (topics, data) = (logs[i].topics, logs[i].data);
                ++found;
            }
        }
        _eq(found, 1, "the call emits its event once");
    }

    function _succeeds(bytes memory call) internal view returns (bool ok) {
        (ok,) = address(vault).staticcall(call);
    }

    /* totalAssets, convertTo*, max*: MUST NOT revert */

    /// @notice totalAssets, convertToShares/Assets (for inputs a fund can hold: up to 10^12
    /// whole tokens, 10^18 shares' worth), every max* for any address and every preview MUST
    /// NOT revert (previews MAY revert only where the call would for a reason other than a
    /// limit: here never). asset() MUST NOT revert and is the base token. convertTo* MUST NOT
    /// vary with the caller.
    function testFuzz_viewsNeverRevert(World memory w, address who, uint256 x, uint256 y) public {
        _world(w);
        (uint256 a, uint256 s) = (_amount(x), _shareAmount(y));
        _check(_succeeds(abi.encodeCall(IERC4626.asset, ())), "asset reverted");
        _eq(uint160(vault.asset()), uint160(address(token)), "asset is the base token");
        _check(_succeeds(abi.encodeCall(IERC4626.totalAssets, ())), "totalAssets reverted");
        _check(_succeeds(abi.encodeCall(IERC4626.convertToShares, (a))), "convertToShares reverted");
        _check(_succeeds(abi.encodeCall(IERC4626.convertToAssets, (s))), "convertToAssets reverted");
        _check(_succeeds(abi.encodeCall(IERC4626.maxDeposit, (who))), "maxDeposit reverted");
        _check(_succeeds(abi.encodeCall(IERC4626.maxMint, (who))), "maxMint reverted");
        _check(_succeeds(abi.encodeCall(IERC4626.maxWithdraw, (who))), "maxWithdraw reverted");
        _check(_succeeds(abi.encodeCall(IERC4626.maxRedeem, (who))), "maxRedeem reverted");
        _check(_succeeds(abi.encodeCall(IERC4626.previewDeposit, (a))), "previewDeposit reverted");
        _check(_succeeds(abi.encodeCall(IERC4626.previewMint, (s))), "previewMint reverted");
        _check(_succeeds(abi.encodeCall(IERC4626.previewWithdraw, (a))), "previewWithdraw reverted");
        _check(_succeeds(abi.encodeCall(IERC4626.previewRedeem, (s))), "previewRedeem reverted");
        _check(_succeeds(abi.encodeWithSignature("pendingFeeShares()")), "pendingFeeShares reverted");
        uint256 shares = vault.convertToShares(a);
        uint256 assets = vault.convertToAssets(s);
        vm.prank(who);
        _eq(vault.convertToShares(a), shares, "convertToShares varies with the caller");
        vm.prank(eve);
        _eq(vault.convertToAssets(s), assets, "convertToAssets varies with the caller");
        if (!_feesOn()) _eq(vault.pendingFeeShares(), 0, "fee shares pending with fees off");
    }

    /* ROUNDING: in the vault's favour */

    /// @notice convertToShares, convertToAssets, previewDeposit and previewRedeem round down;
    /// previewMint and previewWithdraw round up (EIP-4626, Security Considerations): each is
    /// the exact quotient at the vault's price rounded the way the EIP says, converting there
    /// and back never gives more than went in, and all the shares (the pending fee shares too)
    /// are worth no more than totalAssets.
    function testFuzz_roundingFavoursTheVault(World memory w, uint256 x, uint256 y) public {
        _world(w);
        (uint256 a, uint256 s) = (_amount(x), _shareAmount(y));
        uint256 supply = _supplyNow() + _OFFSET;
        uint256 exitAssets = vault.totalAssets() + 1;
        uint256 entryAssets = _entryAssets() + 1;
        // floor: q * d <= n < (q + 1) * d; ceil: (q - 1) * d < n <= q * d (no product here
        // comes near 2^256: assets <= 10^30, shares <= 10^42)
        uint256 q = vault.convertToShares(a);
        _check(q * exitAssets <= a * supply && a * supply < (q + 1) * exitAssets, "convertToShares is not floor");
        q = vault.convertToAssets(s);
        _check(q * supply <= s * exitAssets && s * exitAssets < (q + 1) * supply, "convertToAssets is not floor");
        q = vault.previewRedeem(s);
        _check(q * supply <= s * exitAssets && s * exitAssets < (q + 1) * supply, "previewRedeem is not floor");
        q = vault.previewWithdraw(a);
        _check(a * supply <= q * exitAssets && (q == 0 || (q - 1) * exitAssets < a * supply), "previewWithdraw is not ceil");
        q = vault.previewDeposit(a);
        _check(q * entryAssets <= a * supply && a * supply < (q + 1) * entryAssets, "previewDeposit is not floor");
        q = vault.previewMint(s);
        _check(s * entryAssets <= q * supply && (q == 0 || (q - 1) * supply < s * entryAssets), "previewMint is not ceil");
        _le(vault.convertToAssets(vault.convertToShares(a)), a, "assets -> shares -> assets gains");
        _le(vault.convertToShares(vault.convertToAssets(s)), s, "shares -> assets -> shares gains");
        _le(vault.previewRedeem(vault.previewDeposit(a)), a, "previewDeposit then previewRedeem gains");
        _le(vault.convertToAssets(_supplyNow()), vault.totalAssets(), "all shares worth more than totalAssets");
    }

    /* deposit / mint */

    /// @notice deposit: mints previewDeposit's shares (no fewer; here exactly, in the same
    /// block) to the receiver, takes exactly `assets` by approve/transferFrom, emits Deposit;
    /// maxDeposit allows it (or is 0, and the deposit reverts: a feed down closes entries).
    function testFuzz_deposit(World memory w, uint256 x) public {
        _world(w);
        uint256 a = _amount(x);
        _fund(carol, a);
        uint256 preview = vault.previewDeposit(a);
        if (_entryClosed(false, a)) return;
        (uint256 vaultBefore, uint256 sharesBefore) = (token.balanceOf(address(vault)), vault.balanceOf(bob));
        vm.recordLogs();
        vm.prank(carol);
        uint256 shares = vault.deposit(a, bob); // receiver other than the caller
        _le(preview, shares, "previewDeposit above the shares deposit mints");
        _eq(preview, shares, "previewDeposit is not deposit in the same block");
        _eq(vault.balanceOf(bob) - sharesBefore, shares, "deposit's receiver got other than the shares returned");
        _eq(token.balanceOf(address(vault)) - vaultBefore, a, "deposit took other than assets");
        _eq(token.balanceOf(carol), 0, "deposit left the caller's assets");
        (bytes32[] memory topics, bytes memory data) = _vaultEvent(IERC4626.Deposit.selector);
        (uint256 ea, uint256 es) = abi.decode(data, (uint256, uint256));
        _check(topics[1] == bytes32(uint256(uint160(carol))) && topics[2] == bytes32(uint256(uint160(bob))), "Deposit's sender/owner");
        _check(ea == a && es == shares, "Deposit's assets/shares");
    }

    /// @notice mint: takes previewMint's assets (no more; here exactly) by approve/transferFrom
    /// and mints exactly `shares` to the receiver, emits Deposit; maxMint allows it (or is 0 and
    /// the mint reverts).
    function testFuzz_mint(World memory w, uint256 y) public {
        _world(w);
        uint256 s = _shareAmount(y);
        uint256 preview = vault.previewMint(s);
        _fund(carol, preview);
        if (_entryClosed(true, s)) return;
        uint256 vaultBefore = token.balanceOf(address(vault));
        vm.recordLogs();
        vm.prank(carol);
        uint256 assets = vault.mint(s, carol);
        _le(assets, preview, "mint took more than previewMint");
        _eq(assets, preview, "previewMint is not mint in the same block");
        _eq(vault.balanceOf(carol), s, "mint minted other than shares");
        _eq(token.balanceOf(address(vault)) - vaultBefore, assets, "mint took other than the assets returned");
        (, bytes memory data) = _vaultEvent(IERC4626.Deposit.selector);
        (uint256 ea, uint256 es) = abi.decode(data, (uint256, uint256));
        _check(ea == assets && es == s, "Deposit's assets/shares");
    }

    /// @dev carol's deposit of `x` assets (or mint of `x` shares) above its max*: only while
    /// entries are closed (a feed down), where max* is 0 and the call reverts. Answers whether
    /// entries were closed (the property then ends).
    function _entryClosed(bool mint_, uint256 x) internal returns (bool) {
        uint256 max = mint_ ? vault.maxMint(carol) : vault.maxDeposit(carol);
        if (max >= x && !_downFeed()) return false;
        string memory name = mint_ ? "mint" : "deposit";
        string memory maxName = mint_ ? "maxMint" : "maxDeposit";
        _check(_downFeed(), string.concat(maxName, " below an amount with entries open"));
        _eq(max, 0, string.concat(maxName, " with entries closed"));
        vm.prank(carol);
        (bool ok,) = address(vault).call(
            mint_ ? abi.encodeCall(IERC4626.mint, (x, carol)) : abi.encodeCall(IERC4626.deposit, (x, carol))
        );
        _check(!ok, string.concat(name, " above ", maxName, " succeeded"));
        return true;
    }

    /// @notice deposit/mint MUST revert if all of the assets cannot be taken: a caller one unit
    /// short (of balance or allowance) gets nothing.
    function testFuzz_entryRevertsWhenShort(World memory w, uint256 x, bool allowanceShort) public {
        _world(w);
        uint256 a = bound(_amount(x), 1, type(uint128).max);
        token.mint(carol, allowanceShort ? a : a - 1);
        vm.startPrank(carol);
        token.approve(address(vault), allowanceShort ? a - 1 : a);
        try vault.deposit(a, carol) {
            revert("deposit succeeded without all of the assets");
        } catch {}
        uint256 s = vault.convertToShares(a);
        if (vault.previewMint(s) >= a) {
            try vault.mint(s, carol) {
                revert("mint succeeded without all of the assets");
            } catch {}
        }
        vm.stopPrank();
        _eq(vault.balanceOf(carol), 0, "a short caller got shares");
    }

    /* withdraw / redeem */

    /// @notice withdraw: burns previewWithdraw's shares (no fewer; here exactly) from the owner,
    /// sends exactly `assets` to the receiver, emits Withdraw; works for the owner and for a
    /// spender with allowance over the owner's shares (spending it), and for nobody else.
    function testFuzz_withdraw(World memory w, uint256 x, bool bySpender) public {
        _world(w);
        _checkExit(false, bound(_amount(x), 0, vault.maxWithdraw(alice)), bySpender);
    }

    /// @notice redeem: burns exactly `shares` from the owner and sends previewRedeem's assets
    /// (no fewer; here exactly) to the receiver, emits Withdraw; owner or spender only.
    function testFuzz_redeem(World memory w, uint256 y, bool bySpender) public {
        _world(w);
        _checkExit(true, bound(_shareAmount(y), 0, vault.maxRedeem(alice)), bySpender);
    }

    /// @dev The exit clauses withdraw (`x` in assets) and redeem (`x` in shares) share: alice's
    /// exit to carol, by alice or by eve as her spender; eve without allowance gets nothing, the
    /// call equals its preview (which it may never beat: no more shares burned, no fewer assets
    /// paid), burns and pays what it says, spends the allowance and emits Withdraw once.
    function _checkExit(bool redeem_, uint256 x, bool bySpender) internal {
        string memory name = redeem_ ? "redeem" : "withdraw";
        uint256 preview = redeem_ ? vault.previewRedeem(x) : vault.previewWithdraw(x);
        (uint256 burns, uint256 pays) = redeem_ ? (x, preview) : (preview, x);
        bytes memory byEve = redeem_ ? abi.encodeCall(IERC4626.redeem, (x, eve, alice)) : abi.encodeCall(IERC4626.withdraw, (x, eve, alice));
        address caller = bySpender ? eve : alice;
        if (burns != 0) {
            // eve with no allowance cannot take alice's assets
            vm.prank(eve);
            (bool ok,) = address(vault).call(byEve);
            _check(!ok, string.concat(name, " without allowance succeeded"));
        }
        if (bySpender) {
            vm.prank(alice);
            vault.approve(eve, burns);
        }
        uint256 sharesBefore = vault.balanceOf(alice);
        vm.recordLogs();
        vm.prank(caller);
        uint256 out = redeem_ ? vault.redeem(x, carol, alice) : vault.withdraw(x, carol, alice);
        if (redeem_) _le(preview, out, "redeem gave less than previewRedeem");
        else _le(out, preview, "withdraw burned more than previewWithdraw");
        _eq(out, preview, string.concat(redeem_ ? "previewRedeem" : "previewWithdraw", " is not ", name, " in the same block"));
        _eq(sharesBefore - vault.balanceOf(alice), burns, string.concat(name, " burned other than its shares"));
        _eq(token.balanceOf(carol), pays, string.concat(name, "'s receiver got other than its assets"));
        if (bySpender) _eq(vault.allowance(alice, eve), 0, string.concat(name, " did not spend the allowance"));
        (bytes32[] memory topics, bytes memory data) = _vaultEvent(IERC4626.Withdraw.selector);
        (uint256 ea, uint256 es) = abi.decode(data, (uint256, uint256));
        _check(
            topics[1] == bytes32(uint256(uint160(caller))) && topics[2] == bytes32(uint256(uint160(carol)))
                && topics[3] == bytes32(uint256(uint160(alice))),
            "Withdraw's sender/receiver/owner"
        );
        _check(ea == pays && es == burns, "Withdraw's assets/shares");
    }

    /* max* */

    /// @notice maxWithdraw/maxRedeem are calls that succeed (the whole amount, at once) and
    /// never above what the owner has or the cash the vault can pay now: one unit more than the
    /// owner's assets or the available cash reverts, and so does one share more than the
    /// owner's balance. (The EIP lets max* be below the real maximum, and TieredVault's
    /// maxWithdraw can be: it caps OpenZeppelin's, which is previewRedeem(maxRedeem(owner)) with
    /// the vault's own maxRedeem, cash-capped and rounded down; rounded down twice, it can be a
    /// unit below the cash a withdraw takes, e.g. 113,928 for a sole holder of 113,929.)
    function testFuzz_maxExitSucceeds(World memory w, bool redeem_) public {
        _world(w);
        uint256 balance = vault.balanceOf(alice);
        if (!redeem_) {
            uint256 m = vault.maxWithdraw(alice);
            uint256 own = vault.convertToAssets(balance);
            uint256 cash = vault.availableCash();
            _le(m, own, "maxWithdraw above the owner's assets");
            _le(m, cash, "maxWithdraw above the available cash");
            vm.prank(alice);
            try vault.withdraw((own < cash ? own : cash) + 1, alice, alice) {
                revert("withdraw above the owner's assets or the cash succeeded");
            } catch {}
            if (m == 0) return;
            vm.prank(alice);
            vault.withdraw(m, alice, alice);
            _eq(token.balanceOf(alice), m, "withdraw at maxWithdraw paid other than it");
        } else {
            uint256 m = vault.maxRedeem(alice);
            _le(m, balance, "maxRedeem above the owner's shares");
            _le(vault.previewRedeem(m), vault.availableCash(), "maxRedeem above the available cash");
            vm.prank(alice);
            try vault.redeem(balance + 1, alice, alice) {
                revert("redeem above the owner's shares succeeded");
            } catch {}
            if (m == 0) return;
            vm.prank(alice);
            vault.redeem(m, alice, alice);
            _eq(vault.balanceOf(alice), balance - m, "redeem at maxRedeem burned other than it");
        }
    }

    /// @notice maxDeposit/maxMint: with entries open here there is no limit (2^256 - 1, as the
    /// EIP asks), and a deposit of a whole fund's size succeeds (testFuzz_deposit); with deposits
    /// paused or withdrawals paused the max* MUST be 0 (a global limit), the calls above them
    /// revert, and the previews MUST still answer (they ignore limits); totalAssets and
    /// convertTo* still answer.
    function testFuzz_pausedLimits(World memory w, uint256 x, uint256 y) public {
        _world(w);
        (uint256 a, uint256 s) = (bound(_amount(x), 1, 1e30), bound(_shareAmount(y), 1, 1e42));
        if (!_downFeed()) {
            _eq(vault.maxDeposit(carol), type(uint256).max, "maxDeposit with no limit is not 2^256 - 1");
            _eq(vault.maxMint(carol), type(uint256).max, "maxMint with no limit is not 2^256 - 1");
        }
        vault.setDepositsPaused(true);
        vault.setWithdrawalsPaused(true);
        _eq(vault.maxDeposit(carol), 0, "maxDeposit while paused");
        _eq(vault.maxMint(carol), 0, "maxMint while paused");
        _eq(vault.maxWithdraw(alice), 0, "maxWithdraw while paused");
        _eq(vault.maxRedeem(alice), 0, "maxRedeem while paused");
        vault.previewDeposit(a);
        vault.previewMint(s);
        vault.previewWithdraw(a);
        vault.previewRedeem(s);
        vault.totalAssets();
        vault.convertToShares(a);
        vault.convertToAssets(s);
        _fund(carol, vault.previewMint(s) + a);
        vm.startPrank(carol);
        try vault.deposit(a, carol) {
            revert("deposit while paused");
        } catch {}
        try vault.mint(s, carol) {
            revert("mint while paused");
        } catch {}
        vm.stopPrank();
        if (vault.balanceOf(alice) == 0) return;
        vm.startPrank(alice);
        try vault.withdraw(1, alice, alice) {
            revert("withdraw while paused");
        } catch {}
        try vault.redeem(1, alice, alice) {
            revert("redeem while paused");
        } catch {}
        vm.stopPrank();
    }

    /* ROUND TRIPS: never a profit */

    /// @notice deposit then redeem (same block): never more assets out than went in; and
    /// maxWithdraw right after a deposit is never more than it.
    function testFuzz_depositRedeemNeverProfits(World memory w, uint256 x) public {
        _world(w);
        if (_downFeed()) return; // entries closed
        uint256 a = _amount(x);
        _fund(carol, a);
        vm.startPrank(carol);
        uint256 shares = vault.deposit(a, carol);
        _le(vault.maxWithdraw(carol), a, "maxWithdraw after a deposit above it");
        uint256 r = vault.maxRedeem(carol);
        _le(r, shares, "maxRedeem above the shares deposited");
        uint256 out = vault.redeem(r, carol, carol);
        vm.stopPrank();
        _le(out, a, "deposit -> redeem gave more than deposited");
    }

    /// @notice mint then withdraw (same block): withdrawing what the mint took burns at least
    /// the shares minted (or is refused); mint then redeem gives no more than the mint took.
    function testFuzz_mintWithdrawNeverProfits(World memory w, uint256 y) public {
        _world(w);
        if (_downFeed()) return;
        uint256 s = _shareAmount(y);
        _fund(carol, vault.previewMint(s));
        vm.startPrank(carol);
        uint256 paid = vault.mint(s, carol);
        uint256 m = vault.maxWithdraw(carol);
        _le(m, paid, "maxWithdraw after a mint above what it took");
        _le(vault.previewRedeem(s), paid, "mint -> redeem would give more than minted for");
        uint256 burned = vault.withdraw(m, carol, carol);
        vm.stopPrank();
        _le(burned, s, "withdraw burned more than the holder had");
        if (m == paid) _eq(burned, s, "mint -> withdraw of all paid left shares");
    }

    /// @notice redeem then deposit the proceeds (same block): never more shares back.
    function testFuzz_redeemDepositNeverProfits(World memory w, uint256 y) public {
        _world(w);
        if (_downFeed()) return;
        uint256 s = bound(_shareAmount(y), 0, vault.maxRedeem(alice));
        vm.startPrank(alice);
        uint256 out = vault.redeem(s, alice, alice);
        token.approve(address(vault), out);
        uint256 back = vault.deposit(out, alice);
        vm.stopPrank();
        _le(back, s, "redeem -> deposit gave more shares than redeemed");
    }

    /* FEES in the previews */

    /// @notice With fees on, a call first mints the fee shares owed now, and the previews count
    /// them: pendingFeeShares is exactly what the next entry or exit mints to the recipient
    /// (none after it in the same block), and the call equals its preview. With fees off
    /// nothing is pending and the recipient gets nothing.
    function testFuzz_previewsCountPendingFees(World memory w, uint256 x, uint8 op) public {
        _world(w);
        uint256 pending = vault.pendingFeeShares();
        if (!_feesOn()) _eq(pending, 0, "fee shares pending with fees off");
        uint256 feesBefore = vault.balanceOf(feeRecipient);
        op %= 4;
        if (op < 2 && _downFeed()) op += 2; // entries closed: an exit instead
        if (op == 0) {
            uint256 a = _amount(x);
            _fund(carol, a);
            uint256 preview = vault.previewDeposit(a);
            vm.prank(carol);
            _eq(vault.deposit(a, carol), preview, "deposit with fees pending is not its preview");
        } else if (op == 1) {
            uint256 s = _shareAmount(x);
            uint256 preview = vault.previewMint(s);
            _fund(carol, preview);
            vm.prank(carol);
            _eq(vault.mint(s, carol), preview, "mint with fees pending is not its preview");
        } else if (op == 2) {
            uint256 a = bound(_amount(x), 0, vault.maxWithdraw(alice));
            uint256 preview = vault.previewWithdraw(a);
            vm.prank(alice);
            _eq(vault.withdraw(a, alice, alice), preview, "withdraw with fees pending is not its preview");
        } else {
            uint256 s = bound(_shareAmount(x), 0, vault.maxRedeem(alice));
            uint256 preview = vault.previewRedeem(s);
            vm.prank(alice);
            _eq(vault.redeem(s, alice, alice), preview, "redeem with fees pending is not its preview");
        }
        // a feed down holds the accrual (nothing charged on a value with an asset at zero)
        _eq(vault.balanceOf(feeRecipient) - feesBefore, pending, "the call minted other than pendingFeeShares");
        if (!_downFeed()) _eq(vault.pendingFeeShares(), 0, "fee shares still pending after a call");
    }
}

/// forge-config: default.fuzz.runs = 64
contract ERC4626Props6 is ERC4626Props(6, false, false) {}

/// forge-config: default.fuzz.runs = 64
contract ERC4626Props6FeesOn is ERC4626Props(6, true, false) {}

/// forge-config: default.fuzz.runs = 64
contract ERC4626Props18FeesOn is ERC4626Props(18, true, false) {}

/// @notice Invested positions (the valuation double): entries at the higher valuation, exits
/// at the lower, a feed down in one run of four, and the performance fee earned by a rise.
/// forge-config: default.fuzz.runs = 64
contract ERC4626Props6PricedFeesOn is ERC4626Props(6, true, true) {}
