// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {PlanExecutor} from "../../contracts/fund/PlanExecutor.sol";
import {IPlanExecutor, ISafeOwners} from "../../contracts/interfaces/IPlanExecutor.sol";
import {IAssetController} from "../../contracts/interfaces/IAssetController.sol";
import {SymTest} from "./Cheats.sol";

/// @notice Test double of the AssetController for the proofs: every call books the amount in
/// its calldata's first word as notional (what the executor measures through budgetUsage()),
/// so the proofs choose each action's notional symbolically.
contract TestBookingController {
    uint256 public booked;

    function budgetUsage() external view returns (uint256, uint256) {
        return (0, booked);
    }

    fallback(bytes calldata data) external returns (bytes memory) {
        booked += uint256(bytes32(data[4:36]));
        return "";
    }
}

/// @notice Test double of the admin Safe's owner set: three fixed owners, threshold 2.
contract TestSafeOwners is ISafeOwners {
    address public immutable o1;
    address public immutable o2;
    address public immutable o3;

    constructor(address a, address b, address c) {
        (o1, o2, o3) = (a, b, c);
    }

    function isOwner(address who) external view returns (bool) {
        return who != address(0) && (who == o1 || who == o2 || who == o3);
    }

    function getThreshold() external pure returns (uint256) {
        return 2;
    }
}

/// @notice Proofs over the PlanExecutor (the real contract, with the two doubles above), for
/// every plan id, deadline, timestamp, action amount, action hash list and signature (halmos).
/// @dev Where the proofs stop: plans of two actions; each action is one allowed selector
/// (rebalanceBuffer) followed by one word, its notional; signatures are 65 bytes (owners' EOA
/// signatures: ecrecover is an uninterpreted function to halmos, so "valid" means "recovers to",
/// for every recovery function). The ERC-1271 path (a Safe message) is tested, not proved
/// (tests/contracts/fund/test_plan_executor.py, `test_countApprovals__*safe*`).
contract PlanExecutorProofs is SymTest {
    uint256 internal constant THRESHOLD = 1_000e6;

    PlanExecutor internal ex;
    TestBookingController internal ctl;
    TestSafeOwners internal safe;

    function setUp() public {
        ctl = new TestBookingController();
        safe = new TestSafeOwners(address(0xA11CE), address(0xB0B), address(0xCA201));
        ex = new PlanExecutor(IAssetController(address(ctl)), safe, address(this), THRESHOLD, 2);
        ex.grantRole(ex.KEEPER_ROLE(), address(this));
    }

    function _action(uint256 amount) internal pure returns (bytes memory) {
        return abi.encodePacked(IAssetController.rebalanceBuffer.selector, amount);
    }

    /// every plan here has two actions (no pool leg: their bands are not read)
    function _bands() internal pure returns (uint16[] memory bands) {
        bands = new uint16[](2);
    }

    function _hashes(bytes32 h0, bytes32 h1) internal pure returns (bytes32[] memory hs) {
        hs = new bytes32[](2);
        (hs[0], hs[1]) = (h0, h1);
    }

    /// @dev Two 65-byte signatures (r, s, v), symbolic as a whole.
    struct Sigs {
        bytes32 r0;
        bytes32 s0;
        uint8 v0;
        bytes32 r1;
        bytes32 s1;
        uint8 v1;
    }

    function _sigs(Sigs memory g) internal pure returns (bytes[] memory sigs) {
        sigs = new bytes[](2);
        sigs[0] = abi.encodePacked(g.r0, g.s0, g.v0);
        sigs[1] = abi.encodePacked(g.r1, g.s1, g.v1);
    }

    function _run(
        IPlanExecutor.PlanHeader memory plan,
        uint256 index,
        bytes memory action,
        bytes32[] memory hashes,
        bytes[] memory sigs
    ) internal returns (bool ok) {
        (ok,) = address(ex).call(abi.encodeCall(PlanExecutor.executeAction, (plan, index, action, hashes, sigs)));
    }

    /// An action (planId, index) runs at most once: after it ran, no later call with the same
    /// plan id and index runs, whatever its action, hash list or time (index 0 or 1 of the
    /// plan: `second`).
    function check_action_runs_at_most_once(
        bytes32 planId,
        uint64 deadline,
        bool second,
        uint256 amount,
        uint256 amount2,
        bytes32 other,
        bytes32 other2,
        uint256 t2
    ) public {
        IPlanExecutor.PlanHeader memory plan = IPlanExecutor.PlanHeader(planId, address(ctl), deadline, _bands());
        // one literal index per branch: halmos reads calldata at concrete offsets only
        if (second) _once(plan, 1, amount, amount2, other, other2, t2);
        else _once(plan, 0, amount, amount2, other, other2, t2);
    }

    function _once(
        IPlanExecutor.PlanHeader memory plan,
        uint256 index,
        uint256 amount,
        uint256 amount2,
        bytes32 other,
        bytes32 other2,
        uint256 t2
    ) internal {
        bytes memory action = _action(amount);
        bytes32[] memory hs = index == 0 ? _hashes(keccak256(action), other) : _hashes(other, keccak256(action));
        vm.assume(_run(plan, index, action, hs, new bytes[](0)));

        vm.assume(t2 >= block.timestamp);
        vm.warp(t2);
        bytes memory again = _action(amount2);
        bytes32[] memory hs2 = index == 0 ? _hashes(keccak256(again), other2) : _hashes(other2, keccak256(again));
        assert(!_run(plan, index, again, hs2, new bytes[](0)));
    }

    /// A plan whose booked notional passes the threshold runs only with two signatures that
    /// recover, over exactly the hash the plan id is bound to, to two distinct current owners.
    function check_large_plan_needs_two_distinct_owners(
        bytes32 planId,
        uint64 deadline,
        uint256 amount,
        bytes32 other,
        Sigs memory g
    ) public {
        IPlanExecutor.PlanHeader memory plan = IPlanExecutor.PlanHeader(planId, address(ctl), deadline, _bands());
        bytes memory action = _action(amount);
        bytes32[] memory hs = _hashes(keccak256(action), other);
        vm.assume(_run(plan, 0, action, hs, _sigs(g)));
        (bytes32 bound, uint256 notional) = ex.planState(planId);
        if (notional > THRESHOLD) {
            assert(bound == ex.hashPlan(plan, hs));
            address a0 = ecrecover(bound, g.v0, g.r0, g.s0);
            address a1 = ecrecover(bound, g.v1, g.r1, g.s1);
            assert(a0 != a1);
            assert(safe.isOwner(a0) && safe.isOwner(a1));
        }
    }

    /// Once a plan's first action ran, a later action of the same plan id runs only if it is
    /// byte for byte the action whose hash the plan was bound with: an edited action (or an
    /// edited hash list) never runs, with the old signatures or any others.
    function check_edited_action_never_runs(
        bytes32 planId,
        uint64 deadline,
        uint256 amount0,
        uint256 amount1,
        uint256 edited,
        bytes32 h0,
        bytes32 h1,
        Sigs memory g
    ) public {
        IPlanExecutor.PlanHeader memory plan = IPlanExecutor.PlanHeader(planId, address(ctl), deadline, _bands());
        bytes32[] memory signed = _hashes(keccak256(_action(amount0)), keccak256(_action(amount1)));
        bytes[] memory sigs = _sigs(g);
        vm.assume(_run(plan, 0, _action(amount0), signed, sigs));

        bytes memory action = _action(edited);
        vm.assume(_run(plan, 1, action, _hashes(h0, h1), sigs));
        assert(keccak256(action) == signed[1]);
        assert(edited == amount1);
    }
}
