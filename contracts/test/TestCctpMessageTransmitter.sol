// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ICctpMessageTransmitterV2} from "../interfaces/external/ICctpMessageTransmitterV2.sol";
import {ICctpTokenMessengerV2} from "../interfaces/external/ICctpTokenMessengerV2.sol";

/// @notice Local/test stand-in for Circle's CCTP V2 MessageTransmitterV2: the same message
/// format, nonce rule and handler calls, with one attester (signature threshold 1) and no
/// pausing, roles or upgrades. For local chains only; never deployed by production scripts.
contract TestCctpMessageTransmitter is ICctpMessageTransmitterV2 {
    /* ERRORS */

    error NonceAlreadyUsed(bytes32 nonce);
    error InvalidAttestation(address recovered, address attester);
    error InvalidDestinationDomain(uint32 expected, uint32 actual);
    error InvalidCaller(bytes32 expected, address actual);
    error InvalidMessageVersion(uint32 expected, uint32 actual);
    error MessageTooShort(uint256 length);
    error RecipientIsZero();
    error DestinationIsLocal(uint32 domain);
    error HandlerFailed(address recipient);

    /* CONSTANTS */

    uint32 internal constant _FINALITY_THRESHOLD_FINALIZED = 2000;
    uint256 internal constant _HEADER_LENGTH = 148;

    /* STORAGE */

    uint32 public immutable override localDomain;
    uint32 public immutable version;
    address public immutable attester;
    mapping(bytes32 nonce => uint256 used) public override usedNonces;

    constructor(uint32 localDomain_, uint32 version_, address attester_) {
        localDomain = localDomain_;
        version = version_;
        attester = attester_;
    }

    /* EXTERNAL */

    /// @inheritdoc ICctpMessageTransmitterV2
    function sendMessage(
        uint32 destinationDomain,
        bytes32 recipient,
        bytes32 destinationCaller,
        uint32 minFinalityThreshold,
        bytes calldata messageBody
    ) external override {
        if (destinationDomain == localDomain) revert DestinationIsLocal(destinationDomain);
        if (recipient == bytes32(0)) revert RecipientIsZero();
        // nonce and finalityThresholdExecuted stay zero: the attester fills them in (V2).
        bytes memory message = abi.encodePacked(
            version,
            localDomain,
            destinationDomain,
            bytes32(0),
            bytes32(uint256(uint160(msg.sender))),
            recipient,
            destinationCaller,
            minFinalityThreshold,
            uint32(0),
            messageBody
        );
        emit MessageSent(message);
    }

    /// @inheritdoc ICctpMessageTransmitterV2
    function receiveMessage(bytes calldata message, bytes calldata attestation)
        external
        override
        returns (bool success)
    {
        bytes32 nonce = _validate(message, attestation);
        usedNonces[nonce] = 1;
        _dispatch(message, nonce);
        return true;
    }

    /* INTERNAL */

    /// @dev Checks in the order of Circle's V2: attestation, domain, caller, version, nonce.
    function _validate(bytes calldata message, bytes calldata attestation) internal view returns (bytes32 nonce) {
        if (message.length < _HEADER_LENGTH) revert MessageTooShort(message.length);
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(keccak256(message), attestation);
        if (err != ECDSA.RecoverError.NoError || recovered != attester) {
            revert InvalidAttestation(recovered, attester);
        }
        uint32 destinationDomain = uint32(bytes4(message[8:12]));
        if (destinationDomain != localDomain) revert InvalidDestinationDomain(localDomain, destinationDomain);
        bytes32 destinationCaller = bytes32(message[108:140]);
        if (destinationCaller != bytes32(0) && destinationCaller != bytes32(uint256(uint160(msg.sender)))) {
            revert InvalidCaller(destinationCaller, msg.sender);
        }
        uint32 messageVersion = uint32(bytes4(message[0:4]));
        if (messageVersion != version) revert InvalidMessageVersion(version, messageVersion);
        nonce = bytes32(message[12:44]);
        if (usedNonces[nonce] != 0) revert NonceAlreadyUsed(nonce);
    }

    function _dispatch(bytes calldata message, bytes32 nonce) internal {
        uint32 sourceDomain = uint32(bytes4(message[4:8]));
        bytes32 sender = bytes32(message[44:76]);
        address recipient = address(uint160(uint256(bytes32(message[76:108]))));
        uint32 finalityExecuted = uint32(bytes4(message[144:148]));
        bool handled = finalityExecuted < _FINALITY_THRESHOLD_FINALIZED
            ? ICctpTokenMessengerV2(recipient).handleReceiveUnfinalizedMessage(
                sourceDomain, sender, finalityExecuted, message[_HEADER_LENGTH:]
            )
            : ICctpTokenMessengerV2(recipient).handleReceiveFinalizedMessage(
                sourceDomain, sender, finalityExecuted, message[_HEADER_LENGTH:]
            );
        if (!handled) revert HandlerFailed(recipient);
        emit MessageReceived(msg.sender, sourceDomain, nonce, sender, finalityExecuted, message[_HEADER_LENGTH:]);
    }
}
