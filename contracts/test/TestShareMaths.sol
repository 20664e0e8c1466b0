// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @notice Test double of the AssetController's pricing answer, set by the test: lets the
/// share-maths differential test (tests/contracts/fund/test_share_maths_model.py) put the
/// deployed TieredVault in any valuation (exit `low`, entry `high`, a feed down).
contract TestPricingController {
    uint256 public low;
    uint256 public high;
    bool public down;

    function set(uint256 low_, uint256 high_, bool down_) external {
        (low, high, down) = (low_, high_, down_);
    }

    function pricingValues() external view returns (uint256, uint256, bool) {
        return (low, high, down);
    }

    function markedValues() external view returns (uint256, uint256) {
        return (low, 0);
    }

    function markedAt() external pure returns (uint256) {
        return 0;
    }

    function cashLeftBand() external {}
}

/// @notice The real OpenZeppelin Math.mulDiv (floor and ceil), called by the differential test
/// against exact integers (the lemma tests/symbolic/share_maths.py proves at narrower widths).
contract TestMulDiv {
    function mulDiv(uint256 x, uint256 y, uint256 d, bool up) external pure returns (uint256) {
        return Math.mulDiv(x, y, d, up ? Math.Rounding.Ceil : Math.Rounding.Floor);
    }
}
