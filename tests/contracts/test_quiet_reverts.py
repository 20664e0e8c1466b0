"""tests/support/quiet_reverts.py: a reverted transaction no longer prints (nor fetches) its call
tree, and the error raised is still the contract's custom error with its arguments."""

import ape
from ape_ethereum.trace import Trace


def test_revert__custom_error_with_arguments__no_call_tree_printed(
    project, deployer, alice, bob, monkeypatch
):
    shown = []
    monkeypatch.setattr(Trace, "show", lambda self, *a, **k: shown.append(self))
    token = deployer.deploy(project.TestStablecoin, "Test USD", "tUSD", 6)
    token.mint(alice, 5, sender=deployer)

    with ape.reverts(token.ERC20InsufficientBalance, sender=alice, balance=5, needed=6):
        token.transfer(bob, 6, sender=alice)

    assert shown == []  # without the plugin ape-foundry calls Trace.show on every revert
    assert token.balanceOf(alice) == 5
