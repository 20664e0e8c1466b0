// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ICctpMessageTransmitterV2} from "../interfaces/external/ICctpMessageTransmitterV2.sol";
import {ICctpTokenMessengerV2} from "../interfaces/external/ICctpTokenMessengerV2.sol";

interface ITestMintBurnToken {
    function mint(address to, uint256 amount) external;
    function burn(uint256 amount) external;
}

/// @notice Local/test stand-in for Circle's CCTP V2 TokenMessengerV2 (with its TokenMinter
/// folded in): burns on depositForBurn, mints on a received burn message, same V2 burn
/// message body. No denylist, no pausing, no upgrades. Never deployed by production scripts.
contract TestCctpTokenMessenger is ICctpTokenMessengerV2, Ownable {
    using SafeERC20 for IERC20;

    /* ERRORS */

    error AmountIsZero();
    error MintRecipientIsZero();
    error MaxFeeTooHigh(uint256 maxFee, uint256 amount);
    error UnknownDestinationDomain(uint32 domain);
    error NotLocalMessageTransmitter(address caller);
    error UnknownRemoteTokenMessenger(uint32 domain, bytes32 sender);
    error UnknownRemoteToken(uint32 domain, bytes32 burnToken);
    error InvalidBodyVersion(uint32 expected, uint32 actual);
    error BodyTooShort(uint256 length);
    error FinalityTooLow(uint32 executed, uint32 minimum);
    error FeeTooHigh(uint256 fee, uint256 maxFee);

    /* EVENTS */

    event RemoteTokenMessengerAdded(uint32 indexed domain, bytes32 messenger);
    event TokenPairLinked(uint32 indexed remoteDomain, bytes32 indexed remoteToken, address localToken);

    /* CONSTANTS */

    uint32 internal constant _MIN_FINALITY_THRESHOLD = 1000;
    uint256 internal constant _BODY_LENGTH = 228;

    /* STORAGE */

    ICctpMessageTransmitterV2 public immutable localMessageTransmitter;
    uint32 public immutable messageBodyVersion;
    mapping(uint32 domain => bytes32 messenger) public remoteTokenMessengers;
    mapping(uint32 domain => mapping(bytes32 remoteToken => address localToken)) public localTokens;

    constructor(address messageTransmitter_, uint32 messageBodyVersion_, address owner_) Ownable(owner_) {
        localMessageTransmitter = ICctpMessageTransmitterV2(messageTransmitter_);
        messageBodyVersion = messageBodyVersion_;
    }

    /* ADMIN */

    function addRemoteTokenMessenger(uint32 domain, bytes32 messenger) external onlyOwner {
        remoteTokenMessengers[domain] = messenger;
        emit RemoteTokenMessengerAdded(domain, messenger);
    }

    function linkTokenPair(address localToken, uint32 remoteDomain, bytes32 remoteToken) external onlyOwner {
        localTokens[remoteDomain][remoteToken] = localToken;
        emit TokenPairLinked(remoteDomain, remoteToken, localToken);
    }

    /* EXTERNAL */

    /// @inheritdoc ICctpTokenMessengerV2
    function depositForBurn(
        uint256 amount,
        uint32 destinationDomain,
        bytes32 mintRecipient,
        address burnToken,
        bytes32 destinationCaller,
        uint256 maxFee,
        uint32 minFinalityThreshold
    ) external override {
        if (amount == 0) revert AmountIsZero();
        if (mintRecipient == bytes32(0)) revert MintRecipientIsZero();
        if (maxFee >= amount) revert MaxFeeTooHigh(maxFee, amount);
        bytes32 destinationMessenger = remoteTokenMessengers[destinationDomain];
        if (destinationMessenger == bytes32(0)) revert UnknownDestinationDomain(destinationDomain);

        IERC20(burnToken).safeTransferFrom(msg.sender, address(this), amount);
        ITestMintBurnToken(burnToken).burn(amount);

        bytes memory body = abi.encodePacked(
            messageBodyVersion,
            bytes32(uint256(uint160(burnToken))),
            mintRecipient,
            amount,
            bytes32(uint256(uint160(msg.sender))),
            maxFee,
            uint256(0), // feeExecuted: filled in by the attester
            uint256(0) // expirationBlock: filled in by the attester
        );
        localMessageTransmitter.sendMessage(
            destinationDomain, destinationMessenger, destinationCaller, minFinalityThreshold, body
        );
        emit DepositForBurn(
            burnToken,
            amount,
            msg.sender,
            mintRecipient,
            destinationDomain,
            destinationMessenger,
            destinationCaller,
            maxFee,
            minFinalityThreshold,
            ""
        );
    }

    /// @inheritdoc ICctpTokenMessengerV2
    function handleReceiveFinalizedMessage(uint32 remoteDomain, bytes32 sender, uint32, bytes calldata messageBody)
        external
        override
        returns (bool)
    {
        _checkCaller(remoteDomain, sender);
        (address recipient, address token, uint256 amount,) = _decode(remoteDomain, messageBody);
        _mint(token, recipient, amount, 0);
        return true;
    }

    /// @inheritdoc ICctpTokenMessengerV2
    function handleReceiveUnfinalizedMessage(
        uint32 remoteDomain,
        bytes32 sender,
        uint32 finalityThresholdExecuted,
        bytes calldata messageBody
    ) external override returns (bool) {
        _checkCaller(remoteDomain, sender);
        if (finalityThresholdExecuted < _MIN_FINALITY_THRESHOLD) {
            revert FinalityTooLow(finalityThresholdExecuted, _MIN_FINALITY_THRESHOLD);
        }
        (address recipient, address token, uint256 amount, uint256 fee) = _decode(remoteDomain, messageBody);
        _mint(token, recipient, amount, fee);
        return true;
    }

    /* INTERNAL */

    function _checkCaller(uint32 remoteDomain, bytes32 sender) internal view {
        if (msg.sender != address(localMessageTransmitter)) revert NotLocalMessageTransmitter(msg.sender);
        if (sender == bytes32(0) || remoteTokenMessengers[remoteDomain] != sender) {
            revert UnknownRemoteTokenMessenger(remoteDomain, sender);
        }
    }

    function _decode(uint32 remoteDomain, bytes calldata body)
        internal
        view
        returns (address recipient, address token, uint256 amount, uint256 fee)
    {
        if (body.length < _BODY_LENGTH) revert BodyTooShort(body.length);
        uint32 bodyVersion = uint32(bytes4(body[0:4]));
        if (bodyVersion != messageBodyVersion) revert InvalidBodyVersion(messageBodyVersion, bodyVersion);
        bytes32 burnToken = bytes32(body[4:36]);
        token = localTokens[remoteDomain][burnToken];
        if (token == address(0)) revert UnknownRemoteToken(remoteDomain, burnToken);
        recipient = address(uint160(uint256(bytes32(body[36:68]))));
        amount = uint256(bytes32(body[68:100]));
        uint256 maxFee = uint256(bytes32(body[132:164]));
        fee = uint256(bytes32(body[164:196]));
        if (fee > maxFee) revert FeeTooHigh(fee, maxFee);
    }

    function _mint(address token, address recipient, uint256 amount, uint256 fee) internal {
        // fee <= maxFee < amount was enforced on the source chain and re-checked in _decode.
        ITestMintBurnToken(token).mint(recipient, amount - fee);
        if (fee > 0) ITestMintBurnToken(token).mint(owner(), fee);
        emit MintAndWithdraw(recipient, amount - fee, token, fee);
    }
}
