// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ISafeOwners
/// @notice The one view of a Safe (1.4.1) the plan executor reads: whether an address is a
/// current owner. Removing an owner from the Safe withdraws every approval it signed.
interface ISafeOwners {
    function isOwner(address owner) external view returns (bool);

    /// @notice How many owners must sign a Safe transaction (or a Safe message).
    function getThreshold() external view returns (uint256);
}

/// @title IPlanExecutor
/// @notice The keeper's only way to move the fund's money (issue 15 "approvals that mean
/// something", issue 13 "double execution with one key"). The executor holds the controller's
/// KEEPER_ROLE; the keeper key holds KEEPER_ROLE here. A keeper plan is
/// (planId, chain id, this executor, controller, deadline, ordered action calldata), hashed as
/// EIP-712 typed data:
///
///   domain  EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)
///           name "Ballast PlanExecutor", version "1", the chain id, this contract
///   message Plan(bytes32 planId,address controller,uint64 deadline,bytes[] actions,uint16[] maxSlippageBps)
///
/// A pool leg (purchaseAsset / redeemAsset) is signed by its aim: its calldata with minOut zero.
/// The keeper sends it with the minOut it takes from the fill it simulated just before sending,
/// and the executor refuses a minOut worth less than the oracle value of the leg, read at
/// execution, less the leg's `maxSlippageBps` (LegOutsideBand): the owners bound how far under
/// the oracle a leg may ever be offered, relative to the price when it runs, so a plan signed
/// hours earlier is neither frozen at an old price (free to sandwich after a move) nor in need
/// of a new signature each time the price moves. Every other action is signed as its calldata,
/// and its band is ignored.
///
/// The keeper sends one action per transaction (its pipeline resumes per action after a crash),
/// with the keccak256 of every action of the plan, so the contract recomputes the plan hash from
/// what it is given and checks the action it runs is the one at `index`. Each (planId, index)
/// runs at most once, whoever sends it; a plan id is bound to the first plan hash it ran with.
///
/// "Large" is judged here, not declared by the keeper: each action's notional is what the
/// controller booked on its notional budget during the call (`budgetUsage()` delta), summed per
/// plan. Once a plan's sum passes `approvalThreshold`, the action runs only with EIP-712
/// signatures of the plan hash by at least `requiredApprovals` distinct current owners of the
/// admin Safe, checked at every such action (an owner removed mid-plan stops counting at once).
/// @dev Roles: DEFAULT_ADMIN_ROLE (the timelock) makes risk-increasing changes (raise the
/// threshold, lower the required approvals, change the Safe, grant roles); ADMIN_ROLE (the Safe)
/// makes risk-reducing ones at once (lower the threshold, require more approvals).
interface IPlanExecutor {
    /// @notice What the keeper declares of a plan besides its actions (the chain id and this
    /// contract are in the EIP-712 domain).
    struct PlanHeader {
        bytes32 planId;
        address controller;
        uint64 deadline;
        /// per action, in plan order: how far under the oracle value (bps, at execution) a
        /// pool leg's minOut may be; ignored for other actions
        uint16[] maxSlippageBps;
    }

    /* EVENTS */

    /// @notice Action `index` of `planId` ran; `notional` is what it booked on the controller's
    /// notional budget, `planNotional` the plan's sum so far, `approvals` the distinct current
    /// owners counted (0 when the plan was below the threshold and none were checked).
    event ActionExecuted(
        bytes32 indexed planId,
        uint256 indexed index,
        uint256 notional,
        uint256 planNotional,
        uint256 approvals
    );
    event ApprovalThresholdSet(uint256 threshold);
    /// @notice At most `budget` of measured notional runs without approvals per `period` seconds.
    event UnapprovedBudgetSet(uint256 budget, uint256 period);
    event RequiredApprovalsSet(uint256 required);
    event SafeSet(address indexed safe);

    /* ERRORS */

    /// @notice (planId, index) has run before: an action runs at most once, whoever sends it.
    error ActionAlreadyExecuted(bytes32 planId, uint256 index);
    error PlanExpired(bytes32 planId, uint64 deadline, uint256 timestamp);
    error ActionIndexOutOfRange(uint256 index, uint256 count);
    error TooManyActions(uint256 count, uint256 max);
    /// @notice The calldata sent is not the action the plan declares at `index`.
    error ActionMismatch(bytes32 planId, uint256 index, bytes32 declared, bytes32 sent);
    /// @notice The plan declares `bands` slippage bands for `actions` actions: one per action.
    error BandsMismatch(uint256 bands, uint256 actions);
    /// @notice Pool leg `index`'s minOut is worth `got` (base units, oracle now), under
    /// `floor`: the oracle value of the leg less the `band` bps the owners signed.
    error LegOutsideBand(bytes32 planId, uint256 index, uint256 got, uint256 floor, uint16 band);
    /// @notice `planId` already ran actions of another plan (edited after its first action).
    error PlanChanged(bytes32 planId, bytes32 bound, bytes32 presented);
    error WrongController(address expected, address presented);
    error SelectorNotAllowed(bytes4 selector);
    /// @notice The plan's measured notional passed the threshold and no signature was given.
    error PlanNeedsApproval(bytes32 planId, uint256 notional, uint256 threshold);
    /// @notice Signatures were given but fewer than `required` distinct current Safe owners signed.
    error NotEnoughApprovals(bytes32 planId, uint256 approvals, uint256 required);
    error TooManySignatures(uint256 count, uint256 max);
    /// @notice Running this action without approvals would take the window's unapproved
    /// notional past its budget: the plan needs the owners' signatures (or the next window).
    error UnapprovedBudgetExceeded(bytes32 planId, uint256 used, uint256 notional, uint256 budget);
    error RiskIncreaseRequiresTimelock(address caller, string what);
    error InvalidParameter(string name, uint256 value);
    error ZeroAddress(string what);

    /* VIEWS */

    function controller() external view returns (address);

    /// @notice The admin Safe whose current owners approve large plans.
    function safe() external view returns (address);

    /// @notice Measured notional (base units) a plan may move before it needs approvals.
    function approvalThreshold() external view returns (uint256);

    /// @notice Distinct current Safe owners that must sign a plan above the threshold.
    function requiredApprovals() external view returns (uint256);

    /// @notice The EIP-712 digest of a plan, given the keccak256 of each action as the plan
    /// declares it, in order (a pool leg's aim: its calldata with minOut zero).
    function hashPlan(PlanHeader calldata plan, bytes32[] calldata actionHashes) external view returns (bytes32);

    /// @notice Distinct current Safe owners among the signers of `planHash` (invalid signatures,
    /// non-owners and repeats are not counted).
    /// @dev Each signature is either 65 bytes (r|s|v, an owner's key: low s, v 27 or 28, as
    /// OpenZeppelin's ECDSA.tryRecover) or `signer ‖ signature` (20 bytes of address, then the
    /// contract's own signature bytes) for a contract signer, checked with ERC-1271
    /// `isValidSignature(planHash, signature)` under a gas cap (ERC1271_GAS): a contract that
    /// is a current owner (a nested Safe, a smart account) counts as one owner; the admin Safe
    /// itself (a Safe message of the plan hash signed by its owners in Safe{Wallet}, checked by
    /// its CompatibilityFallbackHandler against its current owners and threshold) counts as
    /// its current threshold of owners. The result is the larger of the two, never their sum:
    /// the owners who signed the Safe message may be the same as those who signed alone.
    function countApprovals(bytes32 planHash, bytes[] calldata signatures) external view returns (uint256);

    function executed(bytes32 planId, uint256 index) external view returns (bool);

    /// @notice The per-window total of notional that may run without approvals (whatever the
    /// plans it is split into), the window's length, and what the current window has used.
    function unapprovedBudget() external view returns (uint256 budget, uint256 period, uint256 used);

    /// @notice The plan hash `planId` is bound to (0 before its first action) and the notional
    /// its actions have moved.
    function planState(bytes32 planId) external view returns (bytes32 planHash, uint256 notional);

    /* KEEPER */

    /// @notice Runs action `index` of the plan on the controller (one of its move functions),
    /// refusing a replay, an expired plan, calldata other than the declared action, a plan id
    /// bound to another plan, (once the plan's measured notional passes the threshold, or
    /// whenever signatures are given) fewer than `requiredApprovals` owner signatures over the
    /// plan hash, and an unsigned action that would take the window's unapproved total past
    /// its budget, and a pool leg whose minOut is looser than its signed band against the oracle
    /// now (LegOutsideBand). Bubbles the controller's revert.
    /// @param actionHashes keccak256 of every action as declared (a pool leg's aim), in plan order.
    /// @param signatures 65-byte ECDSA signatures over the plan hash (any order; may be empty).
    function executeAction(
        PlanHeader calldata plan,
        uint256 index,
        bytes calldata action,
        bytes32[] calldata actionHashes,
        bytes[] calldata signatures
    ) external returns (bytes memory result);

    /* CONFIGURATION */

    /// @notice Raising it (fewer plans need approval) is timelocked; lowering is immediate (admin).
    function setApprovalThreshold(uint256 threshold) external;

    /// @notice Lowering it is timelocked; raising it is immediate (admin). At least 1.
    function setRequiredApprovals(uint256 required) external;

    /// @notice Raising the budget or shortening the period is timelocked; the opposite is
    /// immediate (admin). The period is 1 hour to 30 days.
    function setUnapprovedBudget(uint256 budget, uint256 period) external;

    /// @notice Timelock only: names whose owners approve.
    function setSafe(address safe_) external;
}
