// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ICctpMessageTransmitterV2
/// @notice The part of Circle's CCTP V2 MessageTransmitterV2 the cross-chain keeper uses
/// (signatures as published in circlefin/evm-cctp-contracts src/v2). The real contract is
/// called on live chains; contracts/test/TestCctpMessageTransmitter.sol implements the same
/// semantics for local chains.
/// @dev Message format (V2), all big-endian:
/// version uint32 [0,4) | sourceDomain uint32 [4,8) | destinationDomain uint32 [8,12) |
/// nonce bytes32 [12,44) | sender bytes32 [44,76) | recipient bytes32 [76,108) |
/// destinationCaller bytes32 [108,140) | minFinalityThreshold uint32 [140,144) |
/// finalityThresholdExecuted uint32 [144,148) | messageBody bytes [148,...).
/// The source chain emits the message with nonce and finalityThresholdExecuted zero; the
/// attestation service fills both in and signs keccak256(message).
interface ICctpMessageTransmitterV2 {
    /// @notice Emitted when a message is dispatched (nonce and executed finality still zero).
    event MessageSent(bytes message);

    /// @notice Emitted when a message was received and handled.
    event MessageReceived(
        address indexed caller,
        uint32 sourceDomain,
        bytes32 indexed nonce,
        bytes32 sender,
        uint32 indexed finalityThresholdExecuted,
        bytes messageBody
    );

    /// @notice Sends `messageBody` to `recipient` on `destinationDomain`.
    /// @param destinationDomain Domain of the destination chain (not the local domain).
    /// @param recipient Recipient contract on the destination chain, as bytes32.
    /// @param destinationCaller Only this address may receive the message on the destination
    /// chain; bytes32(0) lets anyone relay it.
    /// @param minFinalityThreshold Minimum finality the attestation must be made at.
    /// @param messageBody Application payload.
    function sendMessage(
        uint32 destinationDomain,
        bytes32 recipient,
        bytes32 destinationCaller,
        uint32 minFinalityThreshold,
        bytes calldata messageBody
    ) external;

    /// @notice Receives an attested message at most once and hands its body to the recipient.
    /// @param message The attested message (nonce and executed finality filled in).
    /// @param attestation 65-byte ECDSA signature(s) over keccak256(message).
    /// @return success True when the recipient handled the message.
    function receiveMessage(bytes calldata message, bytes calldata attestation)
        external
        returns (bool success);

    /// @notice Non-zero when the nonce has been received.
    function usedNonces(bytes32 nonce) external view returns (uint256);

    /// @notice The domain of this chain.
    function localDomain() external view returns (uint32);

    /// @notice The message format version this transmitter sends and accepts.
    function version() external view returns (uint32);
}
