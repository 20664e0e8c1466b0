// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {InvariantBase} from "./support/InvariantBase.sol";
import {TieredVault} from "../../contracts/fund/TieredVault.sol";
import {AssetController} from "../../contracts/fund/AssetController.sol";
import {AssetControllerAdmin} from "../../contracts/fund/AssetControllerAdmin.sol";
import {ERC4626Adapter} from "../../contracts/fund/adapters/ERC4626Adapter.sol";
import {IAssetControllerTypes} from "../../contracts/interfaces/IAssetControllerTypes.sol";
import {TestStablecoin} from "../../contracts/test/TestStablecoin.sol";
import {TestMoneyMarketFund} from "../../contracts/test/TestMoneyMarketFund.sol";
import {TestPriceFeed} from "../../contracts/test/TestPriceFeed.sol";
import {TestHookedVenue, TestMidMoveCaller} from "../../contracts/test/TestHookedVenue.sol";

/// @notice Differential fuzz (issue 68): the controller's moves read parts of the configuration
/// once per call and keep them (the asset list the snapshot copied, `Snap.tokens`; the leg floor
/// and the internal bound once per deploy) where the plain code read storage again at each use.
/// The two are equal exactly when nothing writes that configuration while a move runs. The only
/// code that runs inside a move and is not the controller's is what its external calls reach (a
/// venue's, an adapter's or a token's callback); the controller's own move code writes no
/// configuration. So this drives the move two ways from the same state: plain (no callback) and
/// with a listed venue's transfer hook calling one configuration writer of the admin module,
/// every one of them, with fuzzed arguments, through a contract holding the timelock's own role
/// (DEFAULT_ADMIN_ROLE: every role check passes); and requires the configuration after the move,
/// and the move's result, to be the same. Without `_notDuringMove` the writers go through and
/// this fails at once (shown on that mutation). 256 runs in `make test`, 100,000 in
/// `make test-deep`.
/// forge-config: default.fuzz.runs = 256
/// forge-config: deep.fuzz.runs = 100000
contract ConfigFrozenDiff is InvariantBase, IAssetControllerTypes {
    uint256 internal constant WRITERS = 19;
    TestStablecoin internal cash;
    TieredVault internal vault;
    AssetController internal controller;
    ERC4626Adapter internal adapter;
    TestMoneyMarketFund internal mmf;
    TestHookedVenue internal hooked;
    TestMoneyMarketFund internal spare; // never listed: addAsset's candidate
    TestPriceFeed internal feed;
    TestMidMoveCaller internal midMoveCaller;

    function setUp() public {
        vm.warp(1_750_000_000);
        cash = new TestStablecoin("Tether USD (test)", "USDT", 6);
        vault = new TieredVault(cash, "Ballast Fund Share", "bFUND", address(this));
        TierConfig[3] memory tiers =
            [TierConfig(1000, 500, 2000), TierConfig(3000, 2000, 4000), TierConfig(6000, 5000, 7000)];
        controller = new AssetController(
            vault, address(this), new AssetControllerAdmin(vault), tiers, RiskParams(500, 300, 9000, 3600, 0)
        );
        vault.setController(address(controller));
        controller.setMoveLimits(MoveLimits(2_000e6, 3_000_000e6, 1 days, 100));
        controller.grantRole(controller.KEEPER_ROLE(), keeper);
        adapter = new ERC4626Adapter();
        feed = new TestPriceFeed(8, 1e8);
        mmf = new TestMoneyMarketFund(cash, "mmf", "mmf");
        hooked = new TestHookedVenue(cash, address(controller));
        spare = new TestMoneyMarketFund(cash, "spare", "spare");
        controller.addAsset(AssetParams(address(mmf), 1, address(adapter), address(feed), 86_400, 1, 1e30, type(uint128).max, 10_000));
        controller.addAsset(AssetParams(address(hooked), 2, address(adapter), address(new TestPriceFeed(8, 1e8)), 86_400, 1, 1e30, type(uint128).max, 10_000));
        midMoveCaller = new TestMidMoveCaller();
        controller.grantRole(controller.DEFAULT_ADMIN_ROLE(), address(midMoveCaller));
        cash.mint(address(this), 1_000_000e6);
        cash.approve(address(vault), type(uint256).max);
        vault.deposit(1_000_000e6, address(this));
        vm.prank(keeper);
        controller.allocateToLayer(1, 300_000e6);
        vm.prank(keeper);
        controller.allocateToLayer(2, 500_000e6);
        vm.warp(block.timestamp + 1);
    }

    function _token(uint256 w) internal view returns (address) {
        uint256 k = w % 4;
        return k == 0 ? address(mmf) : k == 1 ? address(hooked) : k == 2 ? address(spare) : address(uint160(w >> 8));
    }

    /// @dev One configuration writer of the admin module (`which`), its arguments from the words.
    function _writer(uint256 which, uint256[5] memory w) internal view returns (bytes memory) {
        AssetController c = controller;
        which %= WRITERS;
        if (which == 0) {
            return abi.encodeCall(c.setRiskParams, (RiskParams(uint16(w[0]), uint16(w[1]), uint16(w[2]), uint32(w[3]), uint128(w[4]))));
        }
        if (which == 1) return abi.encodeCall(c.setMoveLimits, (MoveLimits(uint96(w[0]), uint96(w[1]), uint32(w[2]), uint16(w[3]))));
        if (which == 2) {
            TierConfig[3] memory t;
            for (uint256 i; i < 3; ++i) {
                t[i] = TierConfig(uint16(w[i]), uint16(w[i] >> 16), uint16(w[i] >> 32));
            }
            if (w[3] % 2 == 0) t = [TierConfig(2000, 500, 3000), TierConfig(3000, 2000, 4000), TierConfig(5000, 4000, 7000)];
            return abi.encodeCall(c.setTiers, (t));
        }
        if (which == 3) return abi.encodeCall(c.setAssetLimits, (_token(w[0]), uint128(w[1]), uint16(w[2])));
        if (which == 4) return abi.encodeCall(c.setDustValue, (uint128(w[0])));
        if (which == 5) return abi.encodeCall(c.pause, ());
        if (which == 6) return abi.encodeCall(c.unpause, ());
        if (which == 7) return abi.encodeCall(c.removeAsset, (_token(w[0])));
        if (which == 8) return abi.encodeCall(c.setDefaultAsset, (uint8(w[0] % 4), _token(w[1])));
        if (which == 9) {
            return abi.encodeCall(c.setFeed, (_token(w[0]), address(feed), uint32(w[2]), uint128(w[3]), uint128(w[4])));
        }
        if (which == 10) return abi.encodeCall(c.setRoundsBumped, (_token(w[0]), w[1] % 2 == 0));
        if (which == 11) return abi.encodeCall(c.setPriceStepBound, (_token(w[0]), uint16(w[1]), uint16(w[2])));
        if (which == 12) return abi.encodeCall(c.acceptPrice, (_token(w[0])));
        bytes32[4] memory roles = [c.DEFAULT_ADMIN_ROLE(), c.KEEPER_ROLE(), c.GUARDIAN_ROLE(), c.ADMIN_ROLE()];
        if (which == 13) return abi.encodeCall(c.grantRole, (roles[w[0] % 4], eve));
        if (which == 14) return abi.encodeCall(c.revokeRole, (roles[w[0] % 4], keeper));
        if (which == 15) {
            return abi.encodeCall(
                c.addAsset,
                (AssetParams(address(spare), uint8(1 + w[0] % 2), address(adapter), address(feed), uint32(w[1]), 1, 1e30, uint128(w[2]), uint16(w[3] % 10_001)))
            );
        }
        if (which == 16) return abi.encodeCall(c.setSequencerFeed, (address(uint160(w[0])), uint32(w[1])));
        if (which == 17) {
            return abi.encodeCall(c.setFallbackFeed, (_token(w[0]), address(feed), uint32(w[2]), uint128(w[3]), uint128(w[4])));
        }
        return abi.encodeCall(c.useFallbackFeed, (_token(w[0])));
    }

    /// @dev The configuration the moves read, and the roles, as the controller answers them.
    function _config() internal view returns (bytes32) {
        AssetController c = controller;
        bytes32 h = keccak256(abi.encode(c.riskParams(), c.moveLimits(), c.tier(0), c.tier(1), c.tier(2)));
        h = keccak256(abi.encode(h, c.assetList(), c.assetParams(address(mmf)), c.assetParams(address(hooked))));
        (address seqFeed, uint32 grace) = c.sequencerFeed();
        h = keccak256(abi.encode(h, c.dustValue(), c.paused(), c.defaultAsset(1), c.defaultAsset(2), seqFeed, grace));
        h = keccak256(abi.encode(h, c.roundsBumped(address(mmf)), c.roundsBumped(address(hooked))));
        h = keccak256(abi.encode(h, c.fallbackFeed(address(mmf)), c.fallbackFeed(address(hooked))));
        h = keccak256(abi.encode(h, _hold(address(mmf)), _hold(address(hooked))));
        bytes32[4] memory roles = [c.DEFAULT_ADMIN_ROLE(), c.KEEPER_ROLE(), c.GUARDIAN_ROLE(), c.ADMIN_ROLE()];
        for (uint256 i; i < 4; ++i) {
            h = keccak256(abi.encode(h, c.hasRole(roles[i], eve), c.hasRole(roles[i], keeper)));
        }
        return h;
    }

    function _hold(address token) internal view returns (bytes32) {
        (bool a, uint256 b, uint256 c, uint256 d, uint256 e, uint16 f, uint16 g, uint64 k) = controller.priceHold(token);
        return keccak256(abi.encode(a, b, c, d, e, f, g, k));
    }

    /// @dev What the move left: the fund's books and balances.
    function _result() internal view returns (bytes32) {
        (uint256 l2, uint256 l3) = controller.markedValues();
        return keccak256(
            abi.encode(
                l2,
                l3,
                controller.markedAt(),
                controller.accountedUnits(address(mmf)),
                controller.accountedUnits(address(hooked)),
                hooked.balanceOf(address(controller)),
                cash.balanceOf(address(vault)),
                vault.totalAssets()
            )
        );
    }

    function testFuzz_configWriterFromAVenueHookMidMove_equalsNoWriter(
        uint8 which,
        uint256 w0,
        uint256 w1,
        uint256 w2,
        uint256 w3,
        uint256 w4,
        uint256 amount
    ) public {
        amount = bound(amount, 1e6, 50_000e6);
        bytes memory data = _writer(which, [w0, w1, w2, w3, w4]);
        uint256 id = vm.snapshotState();
        vm.prank(keeper);
        controller.purchaseAsset(address(hooked), amount, 0);
        (bytes32 config, bytes32 result) = (_config(), _result());
        vm.revertToState(id);
        hooked.arm(address(midMoveCaller), abi.encodeCall(midMoveCaller.exec, (address(controller), data)));
        vm.prank(keeper);
        controller.purchaseAsset(address(hooked), amount, 0);
        require(!hooked.hookOk(), "a configuration writer went through in the middle of a move");
        require(_config() == config, "the configuration after the move differs from the plain run's");
        require(_result() == result, "the move's result differs from the plain run's");
    }

    /// @dev Every writer once, whatever the fast profile's draws meet.
    function test_everyWriter_refusedMidMove() public {
        uint256[5] memory w = [uint256(0), 1_000e6, 2_000, 3, 4];
        for (uint256 which; which < WRITERS; ++which) {
            bytes memory data = _writer(which, w);
            uint256 id = vm.snapshotState();
            hooked.arm(address(midMoveCaller), abi.encodeCall(midMoveCaller.exec, (address(controller), data)));
            vm.prank(keeper);
            controller.purchaseAsset(address(hooked), 1_000e6, 0);
            require(!hooked.hookOk(), "a configuration writer went through in the middle of a move");
            vm.revertToState(id);
        }
    }
}
