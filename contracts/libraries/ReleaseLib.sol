// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ReleaseLib
/// @notice The contract release every deployable contract answers with `RELEASE()`.
/// @dev One place for it: the version of the project without its pre-release suffix
/// (keepers/version.py's CONTRACTS_RELEASE), as ASCII left-aligned in a bytes32 ("0.2.0").
/// tests/offchain/release holds the two equal; the keepers compare it with their ABIs' release
/// at start-up and refuse another release (contracts of 0.1.0 have no such view).
library ReleaseLib {
    bytes32 internal constant RELEASE = "0.3.0";
}
