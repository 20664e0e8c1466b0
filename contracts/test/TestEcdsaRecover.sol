// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @notice Test-only window on OpenZeppelin's ECDSA.tryRecover, the rule the PlanExecutor counts
/// approvals with: the keeper's own rule (keepers/core/signatures.py) is compared with it on
/// random and malformed encodings.
contract TestEcdsaRecover {
    function tryRecover(bytes32 digest, bytes calldata signature) external pure returns (address, uint8) {
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
        return (signer, uint8(err));
    }
}
