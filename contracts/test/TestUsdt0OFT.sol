// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {OFT} from "@layerzerolabs/oft-evm/contracts/OFT.sol";
import {OFTAdapter} from "@layerzerolabs/oft-evm/contracts/OFTAdapter.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @notice Local USDT0 where it is native (minted/burnt): LayerZero's own OFT (npm package
/// oft-evm 4.0.1 of layerzerolabs), with 18 local decimals (ERC20 default, as USDT0 on BSC)
/// and 6 shared decimals, wired to the real EndpointV2. Only `mint` is added, as a test faucet
/// (the real USDT0 mints only on receive). Never deployed by production scripts.
contract TestUsdt0OFT is OFT {
    constructor(string memory name_, string memory symbol_, address endpoint_, address delegate_)
        OFT(name_, symbol_, endpoint_, delegate_)
        Ownable(delegate_)
    {}

    /// @notice Test faucet.
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}

/// @notice Local USDT0 adapter (as on Ethereum, where USDT is locked): LayerZero's own
/// OFTAdapter (oft-evm 4.0.1) over an existing ERC-20 (local decimals read
/// from it), wired to the real EndpointV2. Never deployed by production scripts.
contract TestUsdt0OFTAdapter is OFTAdapter {
    constructor(address token_, address endpoint_, address delegate_)
        OFTAdapter(token_, endpoint_, delegate_)
        Ownable(delegate_)
    {}
}
