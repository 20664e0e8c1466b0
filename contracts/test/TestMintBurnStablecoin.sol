// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TestStablecoin} from "./TestStablecoin.sol";

/// @notice Test-only stablecoin that a local CCTP stand-in can burn and mint (like USDC, whose
/// TokenMinter burns on the source chain and mints on the destination). Open mint: never
/// deployed by production scripts.
contract TestMintBurnStablecoin is TestStablecoin {
    constructor(string memory name_, string memory symbol_, uint8 decimals_)
        TestStablecoin(name_, symbol_, decimals_)
    {}

    /// @notice Burns `amount` of the caller's own tokens.
    function burn(uint256 amount) external {
        _burn(msg.sender, amount);
    }
}
