// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ILzEndpointV2
/// @notice The part of LayerZero's EndpointV2 (lz-evm-protocol-v2 3.0.168, ILayerZeroEndpointV2
/// and IMessagingChannel) the cross-chain keeper calls: whether a packet is verified or executed
/// on the destination, and the permissionless execution of a verified packet. Named apart from
/// LayerZero's own ILayerZeroEndpointV2, which the test OFT imports from npm.
interface ILzEndpointV2 {
    struct Origin {
        uint32 srcEid;
        bytes32 sender;
        uint64 nonce;
    }

    /// @notice Emitted by send: the encoded packet (guid included), options and send library.
    event PacketSent(bytes encodedPayload, bytes options, address sendLibrary);

    /// @notice The LayerZero endpoint id of this chain.
    function eid() external view returns (uint32);

    /// @notice The verified payload hash of a packet not executed yet; zero when none.
    function inboundPayloadHash(address receiver, uint32 srcEid, bytes32 sender, uint64 nonce)
        external
        view
        returns (bytes32);

    /// @notice The highest nonce executed or skipped in order for the path.
    function lazyInboundNonce(address receiver, uint32 srcEid, bytes32 sender) external view returns (uint64);

    /// @notice Executes a verified packet on its receiver (anyone may call it).
    function lzReceive(
        Origin calldata origin,
        address receiver,
        bytes32 guid,
        bytes calldata message,
        bytes calldata extraData
    ) external payable;
}
