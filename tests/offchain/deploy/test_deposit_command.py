"""`ape run deposit` (issue 48: no command or line for a test deposit): the amount in whole base
tokens converted exactly, the investor's balance checked before anything is sent, the vault's
shares minted to the investor."""

from __future__ import annotations

import json

import pytest

from ballast_dev.deployment.deposit import DepositError, make_deposit, parse_amount
from tests.support.fundbotlib import UNIT


@pytest.mark.parametrize(
    "text,decimals,units",
    [("300000", 6, 300_000 * 10**6), ("1.5", 6, 1_500_000), ("300_000", 18, 300_000 * 10**18)],
)
def test_parse_amount__whole_tokens__exact_base_units(text, decimals, units):
    assert parse_amount(text, decimals) == units


@pytest.mark.parametrize(
    "text,needle",
    [
        ("abc", "not a number"),
        ("0", "must be a positive"),
        ("-5", "must be a positive"),
        ("nan", "must be a positive"),
        ("0.0000001", "finer than the token's 6 decimals"),
    ],
)
def test_parse_amount__bad__refused_naming_the_value(text, needle):
    with pytest.raises(DepositError, match=f"--amount '{text}': {needle}"):
        parse_amount(text, 6)


def test_deposit__from_the_record__shares_to_the_investor(fresh, deployment_file, accounts):
    record = json.loads(deployment_file.read_text())
    investor = accounts[5]
    fresh.cash.mint(investor, 400_000 * UNIT, sender=accounts[0])
    lines: list[str] = []
    assets_before = int(fresh.vault.totalAssets())
    nonce = investor.nonce

    with pytest.raises(DepositError, match=r"holds 400,000 USDT .* less than the 500000000000"):
        make_deposit(record, investor, "500000", echo=lines.append)
    assert investor.nonce == nonce and not lines  # refused before sending anything

    shares = make_deposit(record, investor, "300000", echo=lines.append)
    assert shares > 0 and int(fresh.vault.balanceOf(investor)) == shares
    assert int(fresh.vault.totalAssets()) == assets_before + 300_000 * UNIT
    assert int(fresh.cash.balanceOf(investor)) == 100_000 * UNIT
    assert int(fresh.cash.allowance(investor, fresh.vault)) == 0  # approved exactly the amount
    (line,) = lines
    assert line.startswith(f"deposited 300,000 USDT (300000000000 base units) from {investor}")
    assert f"into vault {fresh.vault.address}: {shares} shares" in line

    with pytest.raises(DepositError, match="record is not complete"):
        make_deposit({**record, "complete": False}, investor, "1", echo=lines.append)
