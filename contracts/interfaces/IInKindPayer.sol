// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IInKindPayer
/// @notice The AssetController's side of the vault's in-kind exit (ITieredVault.redeemInKind),
/// called on the controller's address. Kept out of IAssetController: the controller answers
/// these two selectors from its fallback, which runs them on its admin module (the EIP-170 size
/// limit leaves no room for stubs); the events are IAssetControllerTypes' PaidInKind and
/// InKindSkipped.
interface IInKindPayer {
    /// @notice The in-kind part of ITieredVault.redeemInKind: pays `receiver`, of every listed
    /// position, `shares / supply` of the units the fund accounts for (those of its last mark or
    /// move, at most its balance: an outsider's transfer in is never paid out), rounded down,
    /// as the tokens themselves (ERC-4626 venue shares and DEX or RWA tokens as they are). An
    /// asynchronous position's pending requests are paid nothing: their value stays with the
    /// holders left. A transfer that fails is skipped (InKindSkipped): its units stay in the
    /// fund. Lowers the accounted units by what it paid and the mark by `shares / supply`
    /// (the part taken rounded down: the mark per share left never falls); the mark's lines are
    /// dropped (users are priced live until the next mark) and so is the cash-band flag. Needs
    /// no price and works while moves are paused; refused mid-move (MovesUnderWay) and
    /// reentrantly. Only the vault.
    /// @return tokens The listed tokens, in list order.
    /// @return amounts The units paid of each (0: nothing held, or skipped).
    function payInKind(address receiver, uint256 shares, uint256 supply)
        external
        returns (address[] memory tokens, uint256[] memory amounts);

    /// @notice What payInKind(·, shares, supply) would pay now, per listed token (a transfer
    /// that would fail is not foreseen).
    function previewPayInKind(uint256 shares, uint256 supply)
        external
        view
        returns (address[] memory tokens, uint256[] memory amounts);
}
