// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice The forge cheatcodes these suites use (forge-std from npm is years old and cannot
/// be fetched into the tree, so the few declarations needed live here).
interface Vm {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    function prank(address sender) external;
    function startPrank(address sender) external;
    function stopPrank() external;
    function warp(uint256 timestamp) external;
    function load(address target, bytes32 slot) external view returns (bytes32);
    function roll(uint256 blockNumber) external;
    function label(address account, string calldata name) external;
    function deal(address account, uint256 newBalance) external;
    function getCode(string calldata artifactPath) external view returns (bytes memory);
    function expectRevert() external;
    function assume(bool condition) external pure;
    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory);
    function snapshotState() external returns (uint256);
    function revertToState(uint256 snapshotId) external returns (bool);
    function mockCallRevert(address callee, bytes calldata data, bytes calldata revertData) external;
    function clearMockedCalls() external;
    function store(address target, bytes32 slot, bytes32 value) external;
}

/// @notice Shared by handlers and suites: the cheatcode address and a uniform `bound`.
abstract contract CheatBase {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    /// @dev Maps any fuzzed x into [lo, hi] (inclusive), uniformly enough for fuzzing.
    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        require(lo <= hi, "bound: lo > hi");
        if (hi == type(uint256).max && lo == 0) return x;
        return lo + (x % (hi - lo + 1));
    }

    /// @dev Latches a property's failure on the spot: `flag` (a handler's string the suite's
    /// invariant reads) keeps the first message it was given; later ones do not overwrite it.
    /// Solidity cannot assign through a storage reference, so the message is copied in byte by
    /// byte (only ever on a failure).
    function _latch(string storage flag, string memory what) internal {
        bytes storage kept = bytes(flag);
        if (kept.length != 0) return;
        bytes memory m = bytes(what);
        for (uint256 i; i < m.length; ++i) {
            kept.push(m[i]);
        }
    }

    /// @dev Time passes: `secs` bounded to [lo, hi], one block per 12 s (at least one block).
    function _passTime(uint256 secs, uint256 lo, uint256 hi) internal {
        secs = bound(secs, lo, hi);
        vm.warp(block.timestamp + secs);
        vm.roll(block.number + secs / 12 + 1);
    }
}

/// @notice The actors the suites share, each at the same address in every suite (and in the
/// handlers that take them from here), so that a failing sequence's trace names the same actor
/// whichever suite printed it: the admin, the keeper key, two holders and the attacker (eve,
/// who holds nothing and is approved for nothing unless a suite says so).
abstract contract Cast {
    address internal immutable admin = address(0xAD);
    address internal immutable keeper = address(0xBEEF);
    address internal immutable alice = address(0xA11CE);
    address internal immutable bob = address(0xB0B);
    address internal immutable eve = address(0xE5E);
}

/// @notice The parts of forge-std's Test and StdInvariant that forge reads: the test marker and,
/// for an invariant suite, which contracts (and which of their functions) the fuzzer calls, and
/// from which senders. Every suite and differential fuzz here extends it.
abstract contract InvariantBase is CheatBase, Cast {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    address[] private _targets;
    FuzzSelector[] private _selectors;
    address[] private _senders;

    /// @dev forge reads this marker to know the contract holds tests.
    bool public IS_TEST = true;

    function targetContract(address target) internal {
        _targets.push(target);
    }

    function targetSelector(address target, bytes4[] memory selectors) internal {
        _selectors.push(FuzzSelector(target, selectors));
    }

    function targetSender(address sender) internal {
        _senders.push(sender);
    }

    function targetContracts() public view returns (address[] memory) {
        return _targets;
    }

    function targetSelectors() public view returns (FuzzSelector[] memory) {
        return _selectors;
    }

    function targetSenders() public view returns (address[] memory) {
        return _senders;
    }

    /// @dev An invariant fails by reverting with a message that names the property.
    function check(bool ok, string memory property) internal pure {
        if (!ok) revert(property);
    }

    /// @dev The window-budget property every fund's suite states: what the keeper's moves lost
    /// (`lost[i]` at `at[i]`) never passes twice `lossBudget` in any `window`-long span (tumbling
    /// and leaky windows both let through at most twice the budget there), each entry less
    /// `slackEach` and the span's sum less `slackTotal` for rounding.
    function checkLossWithinWindowBudget(
        uint256[] memory at,
        uint256[] memory lost,
        uint256 window,
        uint256 lossBudget,
        uint256 slackEach,
        uint256 slackTotal
    ) internal pure {
        check(
            mostInSpan(at, lost, window, slackEach) <= 2 * lossBudget + slackTotal,
            "keeper loss above twice the window budget in a window-long span"
        );
    }

    /// @dev The contract's own window books (`lossUsed`, `notionalUsed`) never show a bucket
    /// above its budget.
    function checkUsageWithinBudgets(uint256 lossUsed, uint256 notionalUsed, uint256 lossBudget, uint256 notionalBudget)
        internal
        pure
    {
        check(lossUsed <= lossBudget, "loss usage above budget");
        check(notionalUsed <= notionalBudget, "notional usage above budget");
    }

    /// @dev The most a log of amounts (`amounts[i]` at time `at[i]`) holds in any span of
    /// `span` seconds that starts at one of its entries ([at[i], at[i] + span)), each entry
    /// less `slackEach` (not below 0): what the window-budget properties bound.
    function mostInSpan(uint256[] memory at, uint256[] memory amounts, uint256 span, uint256 slackEach)
        internal
        pure
        returns (uint256 most)
    {
        for (uint256 i; i < at.length; ++i) {
            uint256 sum;
            for (uint256 j; j < at.length; ++j) {
                if (at[j] >= at[i] && at[j] < at[i] + span && amounts[j] > slackEach) sum += amounts[j] - slackEach;
            }
            if (sum > most) most = sum;
        }
    }
}
