// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {
    ILayerZeroEndpointV2,
    ILayerZeroReceiver,
    MessagingFee,
    MessagingParams,
    MessagingReceipt,
    Origin
} from "../interfaces/external/ILayerZeroEndpointV2.sol";
import {IUsdt0Oft, OFTFeeDetail, OFTLimit, OFTReceipt, SendParam} from "../interfaces/IUsdt0Oft.sol";

/// @notice Local/test stand-in for USDT0's OFT, written against LayerZero's real EndpointV2:
/// same SendParam / quoteSend / send / lzReceive semantics and the same wire message as
/// LayerZero's OFT (OFTMsgCodec without compose: bytes32 to | uint64 amountSD). Peers are
/// checked on receive, only the endpoint may deliver, dust below the shared decimals stays
/// with the sender. No compose, no rate limits, no pausing. Never deployed by production scripts.
abstract contract TestUsdt0OftCore is IUsdt0Oft, ILayerZeroReceiver, Ownable {
    /* ERRORS */

    error InvalidLocalDecimals(uint8 localDecimals, uint8 sharedDecimals);
    error SlippageExceeded(uint256 amountLD, uint256 minAmountLD);
    error NotEnoughNative(uint256 msgValue, uint256 nativeFee);
    error LzTokenUnavailable();
    error NoPeer(uint32 eid);
    error OnlyEndpoint(address caller);
    error OnlyPeer(uint32 eid, bytes32 sender);
    error ComposeUnsupported();
    error InvalidMessageLength(uint256 length);
    error AmountSDOverflowed(uint256 amountSD);

    /* EVENTS */

    event PeerSet(uint32 eid, bytes32 peer);

    /* CONSTANTS */

    uint8 public constant SHARED_DECIMALS = 6;

    /* STORAGE */

    ILayerZeroEndpointV2 public immutable endpoint;
    uint256 public immutable decimalConversionRate;
    mapping(uint32 eid => bytes32 peer) public peers;

    constructor(ILayerZeroEndpointV2 endpoint_, uint8 localDecimals_, address owner_) Ownable(owner_) {
        if (localDecimals_ < SHARED_DECIMALS) revert InvalidLocalDecimals(localDecimals_, SHARED_DECIMALS);
        endpoint = endpoint_;
        decimalConversionRate = 10 ** (localDecimals_ - SHARED_DECIMALS);
        endpoint_.setDelegate(owner_);
    }

    /* ADMIN */

    function setPeer(uint32 eid, bytes32 peer) external onlyOwner {
        peers[eid] = peer;
        emit PeerSet(eid, peer);
    }

    /* EXTERNAL */

    /// @inheritdoc IUsdt0Oft
    function sharedDecimals() external pure returns (uint8) {
        return SHARED_DECIMALS;
    }

    /// @inheritdoc IUsdt0Oft
    function quoteOFT(SendParam calldata p)
        external
        view
        returns (OFTLimit memory limit, OFTFeeDetail[] memory feeDetails, OFTReceipt memory receipt)
    {
        limit = OFTLimit(0, type(uint64).max * decimalConversionRate);
        feeDetails = new OFTFeeDetail[](0);
        (uint256 sent, uint256 received) = _debitView(p.amountLD, p.minAmountLD);
        receipt = OFTReceipt(sent, received);
    }

    /// @inheritdoc IUsdt0Oft
    function quoteSend(SendParam calldata p, bool payInLzToken) external view returns (MessagingFee memory) {
        (, uint256 received) = _debitView(p.amountLD, p.minAmountLD);
        return endpoint.quote(_messagingParams(p, received, payInLzToken), address(this));
    }

    /// @inheritdoc IUsdt0Oft
    function send(SendParam calldata p, MessagingFee calldata fee, address refundAddress)
        external
        payable
        returns (MessagingReceipt memory msgReceipt, OFTReceipt memory oftReceipt)
    {
        if (p.composeMsg.length != 0) revert ComposeUnsupported();
        if (fee.lzTokenFee != 0) revert LzTokenUnavailable();
        if (msg.value != fee.nativeFee) revert NotEnoughNative(msg.value, fee.nativeFee);
        (uint256 sent, uint256 received) = _debitView(p.amountLD, p.minAmountLD);
        _debit(msg.sender, sent);
        msgReceipt = endpoint.send{value: fee.nativeFee}(_messagingParams(p, received, false), refundAddress);
        oftReceipt = OFTReceipt(sent, received);
        emit OFTSent(msgReceipt.guid, p.dstEid, msg.sender, sent, received);
    }

    /// @inheritdoc ILayerZeroReceiver
    function allowInitializePath(Origin calldata origin) external view returns (bool) {
        return peers[origin.srcEid] == origin.sender;
    }

    /// @inheritdoc ILayerZeroReceiver
    function nextNonce(uint32, bytes32) external pure returns (uint64) {
        return 0;
    }

    /// @inheritdoc ILayerZeroReceiver
    function lzReceive(Origin calldata origin, bytes32 guid, bytes calldata message, address, bytes calldata)
        external
        payable
    {
        if (msg.sender != address(endpoint)) revert OnlyEndpoint(msg.sender);
        if (peers[origin.srcEid] != origin.sender || origin.sender == bytes32(0)) {
            revert OnlyPeer(origin.srcEid, origin.sender);
        }
        if (message.length != 40) revert InvalidMessageLength(message.length);
        address to = address(uint160(uint256(bytes32(message[0:32]))));
        uint256 amountLD = uint256(uint64(bytes8(message[32:40]))) * decimalConversionRate;
        _credit(to, amountLD);
        emit OFTReceived(guid, origin.srcEid, to, amountLD);
    }

    /* INTERNAL */

    function _messagingParams(SendParam calldata p, uint256 amountLD, bool payInLzToken)
        internal
        view
        returns (MessagingParams memory)
    {
        bytes32 peer = peers[p.dstEid];
        if (peer == bytes32(0)) revert NoPeer(p.dstEid);
        bytes memory message = abi.encodePacked(p.to, _toSD(amountLD));
        return MessagingParams(p.dstEid, peer, message, p.extraOptions, payInLzToken);
    }

    function _debitView(uint256 amountLD, uint256 minAmountLD) internal view returns (uint256, uint256) {
        uint256 sent = (amountLD / decimalConversionRate) * decimalConversionRate; // dust stays
        if (sent < minAmountLD) revert SlippageExceeded(sent, minAmountLD);
        return (sent, sent);
    }

    function _toSD(uint256 amountLD) internal view returns (uint64) {
        uint256 amountSD = amountLD / decimalConversionRate;
        if (amountSD > type(uint64).max) revert AmountSDOverflowed(amountSD);
        return uint64(amountSD);
    }

    function _debit(address from, uint256 amountLD) internal virtual;

    function _credit(address to, uint256 amountLD) internal virtual;
}

/// @notice Mint/burn USDT0 (as on chains where USDT0 is native): burns on send, mints on receive.
contract TestUsdt0Oft is TestUsdt0OftCore, ERC20 {
    uint8 private immutable _decimals;

    constructor(string memory name_, string memory symbol_, uint8 decimals_, ILayerZeroEndpointV2 endpoint_, address owner_)
        TestUsdt0OftCore(endpoint_, decimals_, owner_)
        ERC20(name_, symbol_)
    {
        _decimals = decimals_;
    }

    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    /// @notice Test faucet (the real USDT0 mints only on receive).
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }

    /// @inheritdoc IUsdt0Oft
    function token() external view returns (address) {
        return address(this);
    }

    /// @inheritdoc IUsdt0Oft
    function approvalRequired() external pure returns (bool) {
        return false;
    }

    function _debit(address from, uint256 amountLD) internal override {
        _burn(from, amountLD);
    }

    function _credit(address to, uint256 amountLD) internal override {
        _mint(to, amountLD);
    }
}

/// @notice Lock/unlock USDT0 adapter (as on Ethereum, where USDT is locked): holds the sent
/// tokens, releases them on receive.
contract TestUsdt0OftAdapter is TestUsdt0OftCore {
    using SafeERC20 for IERC20;

    IERC20 private immutable _innerToken;

    constructor(IERC20 innerToken_, uint8 decimals_, ILayerZeroEndpointV2 endpoint_, address owner_)
        TestUsdt0OftCore(endpoint_, decimals_, owner_)
    {
        _innerToken = innerToken_;
    }

    /// @inheritdoc IUsdt0Oft
    function token() external view returns (address) {
        return address(_innerToken);
    }

    /// @inheritdoc IUsdt0Oft
    function approvalRequired() external pure returns (bool) {
        return true;
    }

    function _debit(address from, uint256 amountLD) internal override {
        _innerToken.safeTransferFrom(from, address(this), amountLD);
    }

    function _credit(address to, uint256 amountLD) internal override {
        _innerToken.safeTransfer(to, amountLD);
    }
}
