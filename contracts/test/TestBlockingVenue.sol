// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @notice A tokenized fund whose shares can be refused to an address (a blacklist, as USDT and
/// USDC keep) or frozen outright (a paused token): a transfer then reverts. Or burning: a
/// transfer spends all the gas it is given instead of reverting (a hostile or broken token).
/// Test double.
contract TestBlockingVenue is ERC4626 {
    error Blocked(address to);

    mapping(address => bool) public blocked;
    bool public frozen;
    bool public burning;

    constructor(IERC20 asset_) ERC20("Blocking venue", "BLOCKV") ERC4626(asset_) {}

    /// @notice Refuses (or allows again) every transfer to `who` (anyone: a test double).
    function setBlocked(address who, bool b) external {
        blocked[who] = b;
    }

    /// @notice Refuses every transfer while `f`.
    function setFrozen(bool f) external {
        frozen = f;
    }

    /// @notice Every transfer spends all the gas it is given while `b`.
    function setBurning(bool b) external {
        burning = b;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (frozen || blocked[to]) revert Blocked(to);
        if (burning && from != address(0) && to != address(0)) {
            uint256 spent;
            while (true) {
                unchecked {
                    ++spent; // runs out of gas: never returns
                }
            }
        }
        super._update(from, to, value);
    }
}
