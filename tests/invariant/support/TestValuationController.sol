// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Test double (the ERC-4626 property suite only): the one controller view a vault
/// without moves reads, `pricingValues`, with values the suite sets. It stands for invested
/// positions whose exit (low) and entry (high) valuations differ and whose feed may be down,
/// so the suite's previews and calls are priced as against a real AssetController's mark, and a
/// rise of the valuation (not a donation) earns the performance fee.
contract TestValuationController {
    uint256 public low;
    uint256 public high;
    bool public down;

    function set(uint256 low_, uint256 high_, bool down_) external {
        require(low_ <= high_, "low above high");
        (low, high, down) = (low_, high_, down_);
    }

    function pricingValues() external view returns (uint256, uint256, bool) {
        return (low, high, down);
    }
}
