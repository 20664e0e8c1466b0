// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IAssetAdapter
/// @notice How the AssetController enters and leaves one kind of asset. The controller holds
/// the positions; it transfers the input (cash or tokens) to the adapter and then calls it in the
/// same transaction; the adapter sends what it gets back to the caller. Adapters hold nothing
/// between transactions except, for asynchronous assets, the caller's open requests.
/// @dev The controller never trusts the returned amounts for its guards: it measures balance
/// changes and checks them against oracle prices.
interface IAssetAdapter {
    /// @notice Whether invest and divest settle in the same transaction.
    function isInstant() external view returns (bool);

    /// @notice Converts `cashIn` base asset, already transferred to the adapter, into `token`.
    /// @return tokensOut Tokens sent to the caller now (0 when a subscription request is pending).
    function invest(address token, uint256 cashIn) external returns (uint256 tokensOut);

    /// @notice Converts `tokenAmount` of `token`, already transferred to the adapter, into cash.
    /// @return cashOut Cash sent to the caller now (0 when a redemption request is pending).
    function divest(address token, uint256 tokenAmount) external returns (uint256 cashOut);

    /// @notice Like invest, but stops where the next unit would fill at a worse rate than
    /// `minOut / cashIn` (so every unit filled, and the average, is at least that rate) and sends
    /// the unspent cash back to the caller. An adapter that fills at one price fills all or
    /// nothing (the caller's checks decide); a pool adapter fills partially. With `scheduled`
    /// (the controller sets it on a scheduled run, which an outsider may time and wrap in a
    /// transaction of their own) an adapter whose price whoever executes can set in that block
    /// (a pool's) fills nothing and sends all of `cashIn` back.
    /// @return tokensOut Tokens sent to the caller now.
    function investWithin(address token, uint256 cashIn, uint256 minOut, bool scheduled)
        external
        returns (uint256 tokensOut);

    /// @notice Like divest, but stops where the next token would fill at a worse rate than
    /// `minOut / tokenAmount` and sends the unsold tokens back to the caller; `scheduled` as in
    /// investWithin.
    /// @return cashOut Cash sent to the caller now.
    function divestWithin(address token, uint256 tokenAmount, uint256 minOut, bool scheduled)
        external
        returns (uint256 cashOut);

    /// @notice Cash `holder` can invest in `token` in this call, by the venue's own limits (an
    /// ERC-4626 fund's maxDeposit, an asynchronous issuer's room for another request): the
    /// controller never asks for more, so a venue at its cap is a cut leg, not a revert.
    function investableNow(address token, address holder) external view returns (uint256);

    /// @notice Tokens of `holder`'s `balance` that can be divested for cash in this block.
    function redeemableNow(address token, address holder, uint256 balance) external view returns (uint256);

    /// @notice What `holder` has locked in open requests: cash in subscriptions, tokens in redemptions.
    function pending(address token, address holder) external view returns (uint256 cash, uint256 tokens);

    /// @notice Claims the caller's requests that are due and sends the proceeds to the caller.
    function settle(address token) external returns (uint256 tokensIn, uint256 cashIn);

    /// @notice Next time a redemption window opens (0 when always open or not applicable).
    function windowOpensAt(address token) external view returns (uint256);
}
