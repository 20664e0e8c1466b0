// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TestStablecoin} from "./TestStablecoin.sol";

/// @notice A base token that calls its receiver (as an ERC-777-style or upgradeable stablecoin
/// could): armed with a call, the next transfer to `hook` makes that call once and records
/// whether it went through and what it answered. Open mint. Test double (fifth review: the
/// vault's entries and exits are guarded against reentrancy from such a token).
contract TestHookedStablecoin is TestStablecoin {
    address public hook;
    bytes public hookData;
    bool public hookOk;
    bytes public hookReturn;

    constructor(uint8 decimals_) TestStablecoin("Hooked USD (test)", "hUSD", decimals_) {}

    /// @notice The next transfer to `hook_` calls it with `data` (once).
    function arm(address hook_, bytes calldata data) external {
        hook = hook_;
        hookData = data;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        address h = hook;
        if (to == h && h != address(0) && from != address(0)) {
            hook = address(0);
            (hookOk, hookReturn) = h.call(hookData);
        }
    }
}
