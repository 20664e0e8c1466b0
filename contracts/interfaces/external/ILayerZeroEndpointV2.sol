// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

// Structs as published in the npm package @layerzerolabs/lz-evm-protocol-v2 3.0.168
/// (contracts/interfaces/ILayerZeroEndpointV2.sol).
struct MessagingParams {
    uint32 dstEid;
    bytes32 receiver;
    bytes message;
    bytes options;
    bool payInLzToken;
}

struct MessagingReceipt {
    bytes32 guid;
    uint64 nonce;
    MessagingFee fee;
}

struct MessagingFee {
    uint256 nativeFee;
    uint256 lzTokenFee;
}

struct Origin {
    uint32 srcEid;
    bytes32 sender;
    uint64 nonce;
}

/// @title ILayerZeroEndpointV2 (subset)
/// @notice The part of LayerZero's EndpointV2 an OApp calls (signatures identical to the npm package
/// lz-evm-protocol-v2 3.0.168 of LayerZero Labs), so local tests run against the real endpoint.
interface ILayerZeroEndpointV2 {
    /// @notice Local endpoint id.
    function eid() external view returns (uint32);

    /// @notice Fee the send library charges for `_params` sent by `_sender`.
    function quote(MessagingParams calldata _params, address _sender) external view returns (MessagingFee memory);

    /// @notice Sends a message; the endpoint assigns nonce and guid and emits PacketSent.
    function send(MessagingParams calldata _params, address _refundAddress)
        external
        payable
        returns (MessagingReceipt memory);

    /// @notice Lets `_delegate` configure the caller's libraries and recover messages.
    function setDelegate(address _delegate) external;
}

/// @title ILayerZeroReceiver
/// @notice What EndpointV2 calls on a receiving OApp (same signatures as LayerZero's).
interface ILayerZeroReceiver {
    /// @notice Whether the endpoint may open the path from `_origin` (first message).
    function allowInitializePath(Origin calldata _origin) external view returns (bool);

    /// @notice Ordered-delivery nonce hint; 0 means unordered.
    function nextNonce(uint32 _eid, bytes32 _sender) external view returns (uint64);

    /// @notice Executes a verified message; only the endpoint may call.
    function lzReceive(
        Origin calldata _origin,
        bytes32 _guid,
        bytes calldata _message,
        address _executor,
        bytes calldata _extraData
    ) external payable;
}
