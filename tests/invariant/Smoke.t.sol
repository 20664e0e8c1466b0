// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {InvariantBase} from "./support/InvariantBase.sol";
import {TieredVault} from "../../contracts/fund/TieredVault.sol";

contract Counter { uint256 public n; function inc(uint256 x) external { n += x % 3; } }

contract SmokeInvariants is InvariantBase {
    Counter c;
    function setUp() public { c = new Counter(); targetContract(address(c)); }
    function invariant_small() public view { check(c.n() < 1_000_000, "n small"); }
}
