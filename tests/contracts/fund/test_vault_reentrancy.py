"""Fifth review (Info): the vault's entries and exits are guarded against reentrancy.

A base token that calls its receiver (an ERC-777-style or upgradeable stablecoin: the double
TestHookedStablecoin) hands control to the receiver in the middle of an exit: in
`redeemInKind` after the cash is paid and before the controller books the rest, in `redeem`
and `withdraw` after the shares are burnt. `deposit`, `mint`, `withdraw` and `redeem` had no
guard (only the queue's calls, `redeemInKind` and `pullCash` did), so the receiver could enter
again there. Every entry and exit now holds OpenZeppelin's ReentrancyGuardTransient (transient
storage, EIP-1153: the build targets cancun): an entry or exit from inside another is refused
with ReentrancyGuardReentrantCall, and the outer exit completes.

Actors: the attacker's contract (TestMidMoveCaller) holds shares and is the exit's receiver."""

from __future__ import annotations

import pytest
from eth_utils import keccak

REENTERED = keccak(text="ReentrancyGuardReentrantCall()")[:4]


@pytest.fixture
def hooked(project, deployer, base_decimals):
    return deployer.deploy(project.TestHookedStablecoin, base_decimals)


@pytest.fixture
def solo(project, deployer, hooked, alice, attacker, unit):
    """A vault over the hooked token (no controller: its exits are cash alone), alice's 1,000
    in, the attacker's contract holding a tenth of her shares and 100 tokens approved."""
    vault = deployer.deploy(project.TieredVault, hooked, "x", "x", deployer)
    hooked.mint(alice, 1_000 * unit, sender=deployer)
    hooked.approve(vault, 2**256 - 1, sender=alice)
    vault.deposit(1_000 * unit, alice, sender=alice)
    caller = deployer.deploy(project.TestMidMoveCaller)
    vault.transfer(caller, vault.balanceOf(alice) // 10, sender=alice)
    hooked.mint(caller, 100 * unit, sender=deployer)
    caller.exec(hooked, hooked.approve.encode_input(vault, 2**256 - 1), sender=attacker)
    return vault, caller


def _exit(vault, caller, which, unit):
    shares = vault.balanceOf(caller) // 2
    if which == "redeem":
        return vault.redeem.encode_input(shares, caller, caller)
    if which == "withdraw":
        return vault.withdraw.encode_input(10 * unit, caller, caller)
    return vault.redeemInKind.encode_input(shares, caller, caller)


def _inner(vault, caller, which, unit):
    if which == "redeem":
        return vault.redeem.encode_input(vault.balanceOf(caller) // 4, caller, caller)
    if which == "withdraw":
        return vault.withdraw.encode_input(unit, caller, caller)
    if which == "mint":
        return vault.mint.encode_input(10**6, caller)
    return vault.deposit.encode_input(10 * unit, caller)


@pytest.mark.parametrize("outer", ["redeem", "withdraw", "redeemInKind"])
@pytest.mark.parametrize("inner", ["redeem", "withdraw", "deposit", "mint"])
def test_vault__base_token_calls_its_receiver_mid_exit__no_entry_or_exit_from_inside(
    solo, hooked, attacker, unit, outer, inner
):
    vault, caller = solo
    before = vault.balanceOf(caller)
    hooked.arm(
        caller, caller.exec.encode_input(vault, _inner(vault, caller, inner, unit)), sender=attacker
    )
    caller.exec(vault, _exit(vault, caller, outer, unit), sender=attacker)
    assert hooked.hook() == "0x" + "00" * 20, "the hook ran"
    assert hooked.hookOk() is False, f"{inner} from inside {outer} went through"
    assert bytes(hooked.hookReturn())[:4] == REENTERED
    assert vault.balanceOf(caller) < before  # the outer exit itself completed
