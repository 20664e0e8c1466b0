// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IAssetController} from "../interfaces/IAssetController.sol";
import {IRebalanceTarget} from "../interfaces/IRebalanceTarget.sol";
import {IPlanExecutor, ISafeOwners} from "../interfaces/IPlanExecutor.sol";
import {WindowBudgetLib} from "../libraries/WindowBudgetLib.sol";
import {ReleaseLib} from "../libraries/ReleaseLib.sol";

/// @title PlanExecutor
/// @notice Runs the keeper's plans on the AssetController, one action per transaction, each at
/// most once, and only with the admin Safe owners' signatures once a plan is large (measured).
contract PlanExecutor is IPlanExecutor, AccessControl, ReentrancyGuardTransient, EIP712 {
    /// @notice The contract release this code belongs to (ASCII in a bytes32, e.g. "0.2.0"): the
    /// keepers refuse to drive contracts of a release their ABIs do not belong to.
    bytes32 public constant RELEASE = ReleaseLib.RELEASE;

    using WindowBudgetLib for WindowBudgetLib.Window;
    /* ROLES AND CONSTANTS */

    bytes32 public constant ADMIN_ROLE = keccak256("ADMIN_ROLE");
    bytes32 public constant KEEPER_ROLE = keccak256("KEEPER_ROLE");

    bytes32 public constant PLAN_TYPEHASH =
        keccak256(
            "Plan(bytes32 planId,address controller,uint64 deadline,bytes[] actions,uint16[] maxSlippageBps)"
        );

    /// @notice A pool leg's calldata is 4 + 3 x 32 bytes (token, amount, minOut); its aim (what
    /// the owners sign) is the same with minOut zero: the first 68 bytes then a zero word.
    uint256 private constant _AIM_LENGTH = 68;
    uint256 private constant _LEG_LENGTH = 100;

    /// @notice More signatures than this are refused (bounds the owner look-ups of one action).
    uint256 public constant MAX_SIGNATURES = 16;

    /// @notice Gas a contract signer's `isValidSignature` may use (a Safe message with a few
    /// owners, or a nested Safe, uses well under a tenth of it); more counts as invalid.
    uint256 public constant ERC1271_GAS = 500_000;

    /// @notice Actions per plan (one bit each, packed with the plan's notional in one slot).
    uint256 public constant MAX_ACTIONS = 128;

    /// @notice Bounds of the unapproved window's length.
    uint256 public constant MIN_UNAPPROVED_PERIOD = 1 hours;
    uint256 public constant MAX_UNAPPROVED_PERIOD = 30 days;

    /* STORAGE */

    IAssetController private immutable _controller;
    ISafeOwners private _safe;
    /// @inheritdoc IPlanExecutor
    uint256 public approvalThreshold;
    /// @inheritdoc IPlanExecutor
    uint256 public requiredApprovals;

    /// @dev Two slots per plan: the first action writes both (the hash and the done bits with
    /// the notional), every later one only the second.
    struct PlanRecord {
        bytes32 planHash; // bound at the plan's first action
        uint128 notional; // sum of the notional its actions booked on the controller
        uint128 done; // bit i: action i has run
    }

    mapping(bytes32 planId => PlanRecord) private _plans;

    /// @dev What ran without approvals in the current window (a tumbling window: the same rule
    /// the symbolic proof covers, tests/symbolic/WindowBudget.t.sol), its budget and length.
    WindowBudgetLib.Window private _unapproved;
    uint256 private _unapprovedBudget;
    uint256 private _unapprovedPeriod;

    constructor(IAssetController controller_, ISafeOwners safe_, address admin, uint256 threshold, uint256 required)
        EIP712("Ballast PlanExecutor", "1")
    {
        if (address(controller_) == address(0)) revert ZeroAddress("controller");
        if (address(safe_) == address(0)) revert ZeroAddress("safe");
        if (admin == address(0)) revert ZeroAddress("admin");
        if (required == 0 || required > MAX_SIGNATURES) revert InvalidParameter("requiredApprovals", required);
        _controller = controller_;
        _safe = safe_;
        approvalThreshold = threshold;
        requiredApprovals = required;
        // by default twice the per-plan threshold per day: splitting a large plan into small
        // ones gains at most that much a day without the owners
        uint256 daily = threshold > type(uint256).max / 2 ? type(uint256).max : 2 * threshold;
        _unapprovedBudget = daily;
        _unapprovedPeriod = 1 days;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        emit SafeSet(address(safe_));
        emit ApprovalThresholdSet(threshold);
        emit RequiredApprovalsSet(required);
        emit UnapprovedBudgetSet(daily, 1 days);
    }

    /* VIEWS */

    /// @inheritdoc IPlanExecutor
    function controller() external view returns (address) {
        return address(_controller);
    }

    /// @inheritdoc IPlanExecutor
    function safe() external view returns (address) {
        return address(_safe);
    }

    /// @inheritdoc IPlanExecutor
    function hashPlan(PlanHeader calldata plan, bytes32[] calldata actionHashes) public view returns (bytes32) {
        // EIP-712 encodes bytes[] as keccak256 of the concatenated keccak256 of each element
        bytes32 actionsHash = keccak256(abi.encodePacked(actionHashes));
        // uint16[] likewise: keccak256 of the elements, each padded to 32 bytes (encodePacked
        // pads array elements)
        bytes32 bandsHash = keccak256(abi.encodePacked(plan.maxSlippageBps));
        return _hashTypedDataV4(
            keccak256(abi.encode(PLAN_TYPEHASH, plan.planId, plan.controller, plan.deadline, actionsHash, bandsHash))
        );
    }

    /// @inheritdoc IPlanExecutor
    function countApprovals(bytes32 planHash, bytes[] calldata signatures) public view returns (uint256 n) {
        uint256 count = signatures.length;
        if (count > MAX_SIGNATURES) revert TooManySignatures(count, MAX_SIGNATURES);
        address[] memory seen = new address[](count);
        bool safeApproved = false;
        for (uint256 i; i < count; ++i) {
            bytes calldata sig = signatures[i];
            address signer;
            if (sig.length == 65) {
                ECDSA.RecoverError err;
                (signer, err,) = ECDSA.tryRecover(planHash, sig);
                if (err != ECDSA.RecoverError.NoError) continue;
            } else if (sig.length > 20) {
                signer = address(bytes20(sig[:20]));
                if (!_validContractSignature(signer, planHash, sig[20:])) continue;
                if (signer == address(_safe)) {
                    safeApproved = true;
                    continue;
                }
            } else {
                continue;
            }
            if (!_safe.isOwner(signer)) continue;
            bool repeat = false;
            for (uint256 j; j < n; ++j) {
                if (seen[j] == signer) {
                    repeat = true;
                    break;
                }
            }
            if (repeat) continue;
            seen[n] = signer;
            ++n;
        }
        if (safeApproved) {
            uint256 threshold = _safe.getThreshold();
            if (threshold > n) n = threshold;
        }
    }

    /// @dev ERC-1271 with a gas cap: `signer` has code and answers `isValidSignature(hash,
    /// signature)` with the magic value within ERC1271_GAS (a revert, a wrong answer, a short
    /// return or running out of gas: not valid).
    function _validContractSignature(address signer, bytes32 hash, bytes calldata signature)
        private
        view
        returns (bool)
    {
        if (signer.code.length == 0) return false;
        (bool ok, bytes memory ret) =
            signer.staticcall{gas: ERC1271_GAS}(abi.encodeWithSelector(0x1626ba7e, hash, signature));
        return ok && ret.length >= 32 && abi.decode(ret, (bytes4)) == bytes4(0x1626ba7e);
    }

    /// @inheritdoc IPlanExecutor
    function executed(bytes32 planId, uint256 index) external view returns (bool) {
        return index < MAX_ACTIONS && _plans[planId].done & (uint128(1) << index) != 0;
    }

    /// @inheritdoc IPlanExecutor
    function unapprovedBudget() external view returns (uint256 budget, uint256 period, uint256 used) {
        period = _unapprovedPeriod;
        return (_unapprovedBudget, period, _unapproved.usedNow(period));
    }

    /// @inheritdoc IPlanExecutor
    function planState(bytes32 planId) external view returns (bytes32 planHash, uint256 notional) {
        PlanRecord storage r = _plans[planId];
        return (r.planHash, r.notional);
    }

    /* KEEPER */

    /// @inheritdoc IPlanExecutor
    function executeAction(
        PlanHeader calldata plan,
        uint256 index,
        bytes calldata action,
        bytes32[] calldata actionHashes,
        bytes[] calldata signatures
    ) external onlyRole(KEEPER_ROLE) nonReentrant returns (bytes memory result) {
        _admit(plan, index, action, actionHashes);
        _checkBand(plan.planId, index, action, plan.maxSlippageBps[index]);
        uint256 notional;
        (result, notional) = _run(action);
        _settle(plan.planId, index, notional, signatures);
    }

    /* CONFIGURATION */

    /// @inheritdoc IPlanExecutor
    function setApprovalThreshold(uint256 threshold) external {
        _authorize(threshold > approvalThreshold, "approvalThreshold");
        approvalThreshold = threshold;
        emit ApprovalThresholdSet(threshold);
    }

    /// @inheritdoc IPlanExecutor
    function setRequiredApprovals(uint256 required) external {
        if (required == 0 || required > MAX_SIGNATURES) revert InvalidParameter("requiredApprovals", required);
        _authorize(required < requiredApprovals, "requiredApprovals");
        requiredApprovals = required;
        emit RequiredApprovalsSet(required);
    }

    /// @inheritdoc IPlanExecutor
    function setUnapprovedBudget(uint256 budget, uint256 period) external {
        if (period < MIN_UNAPPROVED_PERIOD || period > MAX_UNAPPROVED_PERIOD) {
            revert InvalidParameter("unapprovedPeriod", period);
        }
        _authorize(budget > _unapprovedBudget || period < _unapprovedPeriod, "unapprovedBudget");
        _unapprovedBudget = budget;
        _unapprovedPeriod = period;
        emit UnapprovedBudgetSet(budget, period);
    }

    /// @inheritdoc IPlanExecutor
    function setSafe(address safe_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (safe_ == address(0)) revert ZeroAddress("safe");
        _safe = ISafeOwners(safe_);
        emit SafeSet(safe_);
    }

    /* INTERNAL */

    /// @dev Every check that needs no call, then binds the plan id and marks the action done
    /// (before the call: a re-entered executeAction would see it).
    function _admit(PlanHeader calldata plan, uint256 index, bytes calldata action, bytes32[] calldata actionHashes)
        private
    {
        bytes32 planId = plan.planId;
        if (block.timestamp > plan.deadline) revert PlanExpired(planId, plan.deadline, block.timestamp);
        if (plan.controller != address(_controller)) revert WrongController(address(_controller), plan.controller);
        if (actionHashes.length > MAX_ACTIONS) revert TooManyActions(actionHashes.length, MAX_ACTIONS);
        if (index >= actionHashes.length) revert ActionIndexOutOfRange(index, actionHashes.length);
        if (plan.maxSlippageBps.length != actionHashes.length) {
            revert BandsMismatch(plan.maxSlippageBps.length, actionHashes.length);
        }
        bytes32 sent = _legHash(action);
        if (sent != actionHashes[index]) revert ActionMismatch(planId, index, actionHashes[index], sent);
        PlanRecord storage r = _plans[planId];
        // index < MAX_ACTIONS = 128 (checked above): the shift stays inside uint128
        uint128 bit = uint128(1) << index;
        uint128 done = r.done;
        if (done & bit != 0) revert ActionAlreadyExecuted(planId, index);
        _allowedSelector(action);
        bytes32 planHash = hashPlan(plan, actionHashes);
        bytes32 bound = r.planHash;
        if (bound == bytes32(0)) r.planHash = planHash;
        else if (bound != planHash) revert PlanChanged(planId, bound, planHash);
        r.done = done | bit;
    }

    /// @dev What the plan declares an action as: a pool leg (purchaseAsset / redeemAsset) by its
    /// aim, its calldata with minOut zero (the keeper sets minOut at send time from the fill it
    /// simulated; `_checkBand` bounds it), any other action by its whole calldata. A pool leg
    /// of another length than the ABI's is hashed whole, so it matches no aim.
    function _legHash(bytes calldata action) private pure returns (bytes32) {
        if (action.length == _LEG_LENGTH && _isPoolLeg(bytes4(action[:4]))) {
            return keccak256(abi.encodePacked(action[:_AIM_LENGTH], uint256(0)));
        }
        return keccak256(action);
    }

    function _isPoolLeg(bytes4 s) private pure returns (bool) {
        return s == IAssetController.purchaseAsset.selector || s == IAssetController.redeemAsset.selector;
    }

    /// @dev A pool leg's minOut must be worth at least the oracle value of what it gives less
    /// the band signed for it, the oracle read now (at execution, not at signing): a purchase's
    /// minimum tokens valued by the controller against the cash spent, a redemption's minimum
    /// cash against the controller's value of the tokens sold.
    function _checkBand(bytes32 planId, uint256 index, bytes calldata action, uint16 band) private view {
        if (action.length != _LEG_LENGTH || !_isPoolLeg(bytes4(action[:4]))) return;
        (address token, uint256 amount, uint256 minOut) = abi.decode(action[4:], (address, uint256, uint256));
        uint256 keep = band >= 10_000 ? 0 : 10_000 - band;
        uint256 got;
        uint256 floor;
        if (bytes4(action[:4]) == IAssetController.purchaseAsset.selector) {
            got = _controller.valueOf(token, minOut);
            floor = amount * keep / 10_000;
        } else {
            got = minOut;
            floor = _controller.valueOf(token, amount) * keep / 10_000;
        }
        if (got < floor) revert LegOutsideBand(planId, index, got, floor, band);
    }

    /// @dev Calls the controller and measures the notional the call booked on its budget.
    function _run(bytes calldata action) private returns (bytes memory result, uint256 notional) {
        (, uint256 usedBefore) = _controller.budgetUsage();
        result = Address.functionCall(address(_controller), action);
        (, uint256 usedAfter) = _controller.budgetUsage();
        // same block, so nothing drained between the reads: the delta is what this call booked
        // (a controller whose usage fell would be broken; count nothing rather than underflow)
        notional = usedAfter > usedBefore ? usedAfter - usedBefore : 0;
    }

    /// @dev Adds the action's notional to its plan and, past the threshold, requires the owners'
    /// signatures over the plan hash the plan id is bound to; an unsigned action below it is
    /// counted on the window's unapproved total.
    function _settle(bytes32 planId, uint256 index, uint256 notional, bytes[] calldata signatures) private {
        PlanRecord storage r = _plans[planId];
        uint256 total = r.notional + notional;
        r.notional = SafeCast.toUint128(total);
        uint256 approvals = 0; // none checked below the threshold when none are given
        // past the threshold signatures are required; below it, signatures given are checked
        // the same way and, if enough, the action runs as approved (off the window's total)
        if (total > approvalThreshold || signatures.length != 0) {
            if (signatures.length == 0) revert PlanNeedsApproval(planId, total, approvalThreshold);
            approvals = countApprovals(r.planHash, signatures);
            if (approvals < requiredApprovals) revert NotEnoughApprovals(planId, approvals, requiredApprovals);
        } else {
            // below the per-plan threshold: counted on the window's unapproved total, so that
            // many small plans cannot move more without the owners than one large one
            uint256 period = _unapprovedPeriod;
            uint256 budget = _unapprovedBudget;
            uint256 used = _unapproved.usedNow(period);
            if (used + notional > budget) revert UnapprovedBudgetExceeded(planId, used, notional, budget);
            // within the budget (checked just above), so consume cannot revert here
            assert(_unapproved.consume(notional, budget, period) <= budget);
        }
        emit ActionExecuted(planId, index, notional, total, approvals);
    }

    /// @dev The timelock may do anything; the admin only what reduces risk.
    function _authorize(bool increasesRisk, string memory what) private view {
        if (hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) return;
        if (increasesRisk) revert RiskIncreaseRequiresTimelock(msg.sender, what);
        _checkRole(ADMIN_ROLE);
    }

    /// @dev Only the controller's keeper moves; nothing else the executor's role could reach.
    function _allowedSelector(bytes calldata action) private pure {
        if (action.length < 4) revert SelectorNotAllowed(bytes4(0));
        bytes4 s = bytes4(action[:4]);
        if (
            s != IAssetController.allocateToLayer.selector && s != IAssetController.purchaseAsset.selector
                && s != IAssetController.redeemAsset.selector && s != IAssetController.rebalanceBuffer.selector
                && s != IAssetController.executeWaterfallLiquidation.selector && s != IRebalanceTarget.rebalance.selector
        ) revert SelectorNotAllowed(s);
    }
}
