// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IERC20Min
/// @notice The part of ERC-20 (EIP-20, with `decimals` and `symbol` from the metadata extension)
/// the keepers call on any token: moving inventory, approving a bridge, reading balances,
/// decimals and the symbol the console shows.
/// Declared here, not imported from OpenZeppelin, so that `ape compile` writes its ABI into the
/// build and `make abis` can export it for the keepers (dependency types are not in the build).
interface IERC20Min {
    /// @notice Moves `amount` from the caller to `to`.
    function transfer(address to, uint256 amount) external returns (bool);

    /// @notice Moves `amount` from `from` to `to` within the caller's allowance.
    function transferFrom(address from, address to, uint256 amount) external returns (bool);

    /// @notice Lets `spender` move up to `amount` of the caller's tokens.
    function approve(address spender, uint256 amount) external returns (bool);

    /// @notice What `spender` may still move of `owner`'s tokens.
    function allowance(address owner, address spender) external view returns (uint256);

    /// @notice The balance of `account`, in base units.
    function balanceOf(address account) external view returns (uint256);

    /// @notice The number of decimals of the base unit.
    function decimals() external view returns (uint8);

    /// @notice The token's symbol (the console shows amounts with it).
    function symbol() external view returns (string memory);
}
