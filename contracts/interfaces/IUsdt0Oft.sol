// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MessagingFee, MessagingReceipt} from "./external/ILayerZeroEndpointV2.sol";

// Structs as published in the npm package @layerzerolabs/oft-evm 4.0.1 (contracts/interfaces/IOFT.sol).
struct SendParam {
    uint32 dstEid;
    bytes32 to;
    uint256 amountLD;
    uint256 minAmountLD;
    bytes extraOptions;
    bytes composeMsg;
    bytes oftCmd;
}

struct OFTLimit {
    uint256 minAmountLD;
    uint256 maxAmountLD;
}

struct OFTReceipt {
    uint256 amountSentLD;
    uint256 amountReceivedLD;
}

struct OFTFeeDetail {
    int256 feeAmountLD;
    string description;
}

/// @title IUsdt0Oft
/// @notice The part of LayerZero's IOFT (USDT0 is an OFT) the cross-chain keeper uses.
/// Amounts cross chains in shared decimals (6): the dust below one shared unit stays with the
/// sender, so `amountReceivedLD <= amountLD`.
interface IUsdt0Oft {
    /// @notice Emitted when `amountSentLD` left `fromAddress` under message `guid`.
    event OFTSent(
        bytes32 indexed guid, uint32 dstEid, address indexed fromAddress, uint256 amountSentLD, uint256 amountReceivedLD
    );

    /// @notice Emitted when message `guid` credited `amountReceivedLD` to `toAddress`.
    event OFTReceived(bytes32 indexed guid, uint32 srcEid, address indexed toAddress, uint256 amountReceivedLD);

    /// @notice The ERC-20 this OFT moves (itself for a mint/burn OFT, the locked token for an adapter).
    function token() external view returns (address);

    /// @notice Whether the caller must approve `token()` to this contract before `send`.
    function approvalRequired() external view returns (bool);

    /// @notice Decimals used on the wire (6 for USDT0).
    function sharedDecimals() external view returns (uint8);

    /// @notice Limits, fees and the amounts `send` would move for `_sendParam`.
    function quoteOFT(SendParam calldata _sendParam)
        external
        view
        returns (OFTLimit memory, OFTFeeDetail[] memory oftFeeDetails, OFTReceipt memory);

    /// @notice Messaging fee `send` must be paid for `_sendParam`.
    function quoteSend(SendParam calldata _sendParam, bool _payInLzToken) external view returns (MessagingFee memory);

    /// @notice Debits the caller and sends the credit message to `_sendParam.dstEid`.
    function send(SendParam calldata _sendParam, MessagingFee calldata _fee, address _refundAddress)
        external
        payable
        returns (MessagingReceipt memory, OFTReceipt memory);
}
