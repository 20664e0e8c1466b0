// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ICctpMessageTransmitterV2} from "./ICctpMessageTransmitterV2.sol";

/// @title ICctpTokenMessengerV2
/// @notice The part of Circle's CCTP V2 TokenMessengerV2 the cross-chain keeper uses
/// (signatures as published in circlefin/evm-cctp-contracts src/v2).
/// @dev Burn message body (V2): version uint32 [0,4) | burnToken bytes32 [4,36) |
/// mintRecipient bytes32 [36,68) | amount uint256 [68,100) | messageSender bytes32 [100,132) |
/// maxFee uint256 [132,164) | feeExecuted uint256 [164,196) | expirationBlock uint256
/// [196,228) | hookData bytes [228,...).
interface ICctpTokenMessengerV2 {
    /// @notice Emitted when tokens were burnt for minting on another domain.
    event DepositForBurn(
        address indexed burnToken,
        uint256 amount,
        address indexed depositor,
        bytes32 mintRecipient,
        uint32 destinationDomain,
        bytes32 destinationTokenMessenger,
        bytes32 destinationCaller,
        uint256 maxFee,
        uint32 indexed minFinalityThreshold,
        bytes hookData
    );

    /// @notice Emitted when tokens were minted for a received burn message.
    event MintAndWithdraw(address indexed mintRecipient, uint256 amount, address indexed mintToken, uint256 feeCollected);

    /// @notice Burns `amount` of `burnToken` from the caller for minting on `destinationDomain`.
    /// @param amount Amount to burn (> 0), in burnToken units.
    /// @param destinationDomain Destination domain; must have a registered TokenMessenger.
    /// @param mintRecipient Recipient of the minted tokens, as bytes32 (non-zero).
    /// @param burnToken Token to burn on this chain.
    /// @param destinationCaller Only this address may receive the message; bytes32(0): anyone.
    /// @param maxFee Most the destination may keep as a fee (< amount), in burnToken units.
    /// @param minFinalityThreshold Minimum finality for the attestation (1000 fast, 2000 final).
    function depositForBurn(
        uint256 amount,
        uint32 destinationDomain,
        bytes32 mintRecipient,
        address burnToken,
        bytes32 destinationCaller,
        uint256 maxFee,
        uint32 minFinalityThreshold
    ) external;

    /// @notice The MessageTransmitterV2 this messenger sends through and accepts messages from.
    function localMessageTransmitter() external view returns (ICctpMessageTransmitterV2);

    /// @notice The burn message body version this messenger writes and accepts.
    function messageBodyVersion() external view returns (uint32);

    /// @notice Called by the local MessageTransmitter for a message attested at finality.
    function handleReceiveFinalizedMessage(
        uint32 remoteDomain,
        bytes32 sender,
        uint32 finalityThresholdExecuted,
        bytes calldata messageBody
    ) external returns (bool);

    /// @notice Called by the local MessageTransmitter for a fast (pre-finality) message.
    function handleReceiveUnfinalizedMessage(
        uint32 remoteDomain,
        bytes32 sender,
        uint32 finalityThresholdExecuted,
        bytes calldata messageBody
    ) external returns (bool);
}
