// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @notice A tokenized fund with a transfer hook (as an ERC-777-style or upgradeable token could
/// have): armed with a call, it makes that call once when its shares are next minted or sent to
/// `target`, i.e. in the middle of the controller's purchase of it (another feed pushed, another
/// token sent to or taken from the controller). `seize` is an issuer's forced transfer out (a
/// regulated token's seizure), open to anyone here. Test double.
contract TestHookedFund is ERC4626 {
    address public immutable target;
    address public hookTo;
    bytes public hookData;

    constructor(IERC20 asset_, address target_, string memory name_) ERC20(name_, name_) ERC4626(asset_) {
        target = target_;
    }

    /// @notice The next mint or transfer to `target` calls `to` with `data` (once).
    function arm(address to, bytes calldata data) external {
        hookTo = to;
        hookData = data;
    }

    /// @notice Takes `amount` shares from `from` (burnt).
    function seize(address from, uint256 amount) external {
        _burn(from, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        address h = hookTo;
        if (to == target && h != address(0)) {
            hookTo = address(0);
            (bool ok, bytes memory r) = h.call(hookData);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(r, 32), mload(r))
                }
            }
        }
    }
}
