// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {TestMoneyMarketFund} from "./TestMoneyMarketFund.sol";

/// @notice A money-market fund with a deposit cap on its total assets, as real tokenized funds
/// have: maxDeposit (and maxMint) answer the headroom, and OpenZeppelin's deposit reverts
/// ERC4626ExceededMaxDeposit past it. Anyone may fill the headroom. Test double.
contract TestCappedFund is TestMoneyMarketFund {
    uint256 public cap;

    constructor(IERC20 asset_, uint256 cap_) TestMoneyMarketFund(asset_, "Capped MMF", "cMMF") {
        cap = cap_;
    }

    function setCap(uint256 cap_) external {
        cap = cap_;
    }

    function maxDeposit(address) public view override returns (uint256) {
        uint256 t = totalAssets();
        return t < cap ? cap - t : 0;
    }

    function maxMint(address who) public view override returns (uint256) {
        return convertToShares(maxDeposit(who));
    }
}
