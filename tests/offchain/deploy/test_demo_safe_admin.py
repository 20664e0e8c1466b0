"""The demo with the Safe as admin (scripts/demo.py's default profile, local-safe.yaml): its
admin actions (the redemption desk's vault role through the timelock, the funder drained by its
owner) are Safe transactions signed by alice and bob; the keeper holds the executor's role, not the
controller's (the PlanExecutor stands in front of it)."""

from __future__ import annotations

import ape

from ballast_dev.demo.run import Demo, _drain, _refill
from ballast_dev.deployment.fund import role
from ballast_dev.deployment.profile import deploy_profile
from ballast_dev.local import actors
from scripts.demo import DEFAULT_PROFILE, demo_profile


def test_demo__safe_admin__admin_actions_go_through_the_safe(tmp_path, accounts, chain):
    profile = demo_profile(DEFAULT_PROFILE)
    assert profile.admin_safe is not None
    assert profile.plan_executor is not None
    fund = deploy_profile(profile, accounts[actors.DEPLOYER], accounts, log=lambda *_: None)
    safe, v = fund.safe, fund.vault
    desk = accounts[actors.ADMIN]
    # the desk account has no admin power of its own: only the Safe could give it the role
    with ape.reverts():
        fund.timelock.schedule(v.address, 0, b"", b"\x00" * 32, b"\x00" * 32, 0, sender=desk)
    nonce0 = int(safe.call_view_method("nonce"))
    d = Demo(fund, accounts, tmp_path, lambda *_: None)
    assert d.admin == safe and d.desk_account == desk
    assert v.hasRole(role(v, "KEEPER_ROLE"), desk)
    assert int(safe.call_view_method("nonce")) == nonce0 + 2  # schedule, execute
    c, ex = fund.controller, fund.automation["plan_executor"]
    assert not c.hasRole(c.KEEPER_ROLE(), accounts[actors.KEEPER])
    assert c.hasRole(c.KEEPER_ROLE(), ex) and ex.hasRole(ex.KEEPER_ROLE(), accounts[actors.KEEPER])

    funder = fund.automation["tx_funder"]
    held = chain.provider.get_balance(funder.address)
    desk_before = chain.provider.get_balance(desk.address)
    with ape.reverts():  # the desk is not the funder's owner
        funder.withdraw(desk.address, held, sender=desk)
    _drain(d)
    assert chain.provider.get_balance(funder.address) == 0
    assert chain.provider.get_balance(desk.address) > desk_before  # withdrawn to the desk
    assert int(safe.call_view_method("nonce")) == nonce0 + 3
    _refill(d)
    assert chain.provider.get_balance(funder.address) == 5 * 10**17


def test_demo__account_admin__the_same_actions_sent_by_the_admin_account(tmp_path, accounts, chain):
    profile = demo_profile("scripts/profiles/local.yaml")
    assert profile.admin_safe is None
    fund = deploy_profile(profile, accounts[actors.DEPLOYER], accounts, log=lambda *_: None)
    d = Demo(fund, accounts, tmp_path, lambda *_: None)
    desk = accounts[actors.ADMIN]
    assert fund.safe is None and d.admin == desk == d.desk_account
    assert fund.vault.hasRole(role(fund.vault, "KEEPER_ROLE"), desk)
    _drain(d)
    assert chain.provider.get_balance(fund.automation["tx_funder"].address) == 0


def test_demo__a_month_that_raises__still_stops_the_relay_and_the_keepers(
    tmp_path, accounts, chain, monkeypatch
):
    """`play` stops what the demo started (the keepers' stores, the local relay's server and
    port; the fork server after a month that raised) whether the month ends or raises: a month
    failing on its first day (after the deposits, with the keepers started) leaves no relay
    answering on its port."""
    import socket

    import pytest

    from ballast_dev.demo.forks import shared_forks
    from ballast_dev.demo.run import play

    profile = demo_profile("scripts/profiles/local.yaml")
    fund = deploy_profile(profile, accounts[actors.DEPLOYER], accounts, log=lambda *_: None)
    d = Demo(fund, accounts, tmp_path, lambda *_: None)
    assert d.forks is shared_forks()  # the process's one fork server, not one per month
    port = d.relay.port
    socket.create_connection(("127.0.0.1", port), timeout=5).close()  # the relay answers

    def fail(_at):
        raise RuntimeError("the month failed on day 1")

    monkeypatch.setattr(d, "run_scheduled", fail)
    with pytest.raises(RuntimeError, match="the month failed on day 1"):
        play(d, 2, {})
    assert d.fund_bot is not None and d.executor is not None  # it got as far as the keepers
    with pytest.raises(OSError):  # the relay's port is closed: nothing listens there
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    assert d.relay._thread is not None and not d.relay._thread.is_alive()
