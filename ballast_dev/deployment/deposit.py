"""A test deposit into a deployed fund, as an investor makes one: `ape run deposit`.

The vault comes from the deployment record; the amount is given in whole base tokens (``300000``,
or ``1.5``: at most the token's decimals) and converted to base units exactly (Decimal, never
float). The investor's balance is checked before anything is sent; the allowance is raised to
the amount only when it is short; then ``deposit(amount, investor)``. It prints the shares
minted and the vault's total assets after.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from keepers.core.amounts import format_amount


class DepositError(ValueError):
    """Bad input or a deposit that cannot be made (the message names the field and value)."""


def parse_amount(text: str, decimals: int) -> int:
    """Whole base tokens (``"300000"``, ``"1.5"``) as base units; refused: not a number, not
    positive, or finer than the token's ``decimals``."""
    try:
        value = Decimal(str(text).replace("_", "").replace(",", ""))
    except InvalidOperation:
        raise DepositError(f"--amount {text!r}: not a number of base tokens") from None
    if not value.is_finite() or value <= 0:
        raise DepositError(f"--amount {text!r}: must be a positive number of base tokens")
    units = value * (Decimal(10) ** decimals)
    if units != units.to_integral_value():
        raise DepositError(f"--amount {text!r}: finer than the token's {decimals} decimals")
    return int(units)


def make_deposit(
    record: dict[str, Any], investor: Any, amount: str, *, echo: Callable[[str], None] = print
) -> int:
    """Deposits ``amount`` whole base tokens from ``investor`` into the record's vault; returns
    the shares minted."""
    from ape import project

    if record.get("complete") is False:
        raise DepositError("the deployment record is not complete: finish the deploy first")
    vault = project.TieredVault.at(record["vault"])
    cash = project.TestStablecoin.at(vault.asset())  # only the ERC-20 part is used
    decimals, symbol = int(cash.decimals()), str(cash.symbol())
    units = parse_amount(amount, decimals)
    who = str(investor.address)
    balance = int(cash.balanceOf(who))
    if balance < units:
        raise DepositError(
            f"--amount {amount}: {who} holds {format_amount(balance, decimals, symbol)} ({balance} base units), "
            f"less than the {units} base units asked for"
        )
    if int(cash.allowance(who, vault.address)) < units:
        cash.approve(vault.address, units, sender=investor)
    before = int(vault.balanceOf(who))
    receipt = vault.deposit(units, who, sender=investor)
    shares = int(vault.balanceOf(who)) - before
    echo(
        f"deposited {format_amount(units, decimals, symbol)} ({units} base units) "
        f"from {who} into vault {vault.address}: {shares} shares, tx {receipt.txn_hash}; "
        f"the vault holds {format_amount(int(vault.totalAssets()), decimals, symbol)}"
    )
    return shares
