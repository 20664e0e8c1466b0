"""What every struct a deployment passes to a contract shares: a frozen dataclass whose fields, in
declaration order, are the struct's members (RiskSpec, MoveLimitsSpec, the recurring configs,
the portfolio's Params and Budgets)."""

from __future__ import annotations

from dataclasses import astuple
from typing import Any


class ContractStruct:
    """Base of a dataclass that stands for a contract's struct."""

    def as_tuple(self) -> tuple[Any, ...]:
        """The fields in declaration order, as the contract's struct takes them."""
        return astuple(self)  # type: ignore[call-overload]
