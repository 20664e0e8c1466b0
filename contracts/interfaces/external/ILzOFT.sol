// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ILzOFT
/// @notice The part of a LayerZero V2 OFT or OFT adapter (oft-evm 4.0.1 IOFT, plus OAppCore's
/// `endpoint`) the cross-chain keeper calls to move USDT0. Named apart from LayerZero's own
/// IOFT, which the test OFT imports from npm.
interface ILzOFT {
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

    struct OFTFeeDetail {
        int256 feeAmountLD;
        string description;
    }

    struct OFTReceipt {
        uint256 amountSentLD;
        uint256 amountReceivedLD;
    }

    struct MessagingFee {
        uint256 nativeFee;
        uint256 lzTokenFee;
    }

    struct MessagingReceipt {
        bytes32 guid;
        uint64 nonce;
        MessagingFee fee;
    }

    /// @notice Emitted on the source when the sender was debited.
    event OFTSent(bytes32 indexed guid, uint32 dstEid, address indexed fromAddress, uint256 amountSentLD, uint256 amountReceivedLD);

    /// @notice Emitted on the destination when the recipient was credited.
    event OFTReceived(bytes32 indexed guid, uint32 srcEid, address indexed toAddress, uint256 amountReceivedLD);

    /// @notice Limits, fees and the amounts a send would move (dust below a shared unit stays).
    function quoteOFT(SendParam calldata sendParam)
        external
        view
        returns (OFTLimit memory, OFTFeeDetail[] memory oftFeeDetails, OFTReceipt memory);

    /// @notice The messaging fee of a send.
    function quoteSend(SendParam calldata sendParam, bool payInLzToken) external view returns (MessagingFee memory);

    /// @notice Debits the caller and sends the amount to `sendParam.to` on `sendParam.dstEid`.
    function send(SendParam calldata sendParam, MessagingFee calldata fee, address refundAddress)
        external
        payable
        returns (MessagingReceipt memory, OFTReceipt memory);

    /// @notice The ERC-20 the OFT moves (itself for a native OFT, the locked token for an adapter).
    function token() external view returns (address);

    /// @notice True when the caller must approve the OFT first (an adapter).
    function approvalRequired() external view returns (bool);

    /// @notice The IOFT interface id and the OFT version.
    function oftVersion() external view returns (bytes4 interfaceId, uint64 version);

    /// @notice The LayerZero endpoint the OFT sends through (OAppCore).
    function endpoint() external view returns (address);
}
