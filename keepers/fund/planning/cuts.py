"""``MoveCut`` events read back into the plan's terms, pure.

The controller's own rebalance (the due run) swaps with a price limit: a leg fills up to the
rate ``internalSlippageBps`` allows and the rest stays where it was (``MoveCut(token, asked,
done)``; cash for a purchase, tokens for a sale). What the cut left is flow the fund still
owes its tiers: it joins the keeper's slice schedule (the carry) so the next slices work it
off at the venue's depth, instead of showing up only as an off-band tier next cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

from keepers.fund.planning.actions import Carry
from keepers.fund.planning.state import FundState


@dataclass(frozen=True)
class MoveCut:
    token: str
    asked: int  # cash (purchase) or tokens (sale) the leg was given
    done: int  # what it filled
    purchase: bool  # True: a purchase cut (cash came back), False: a sale cut (tokens did)
    tx_hash: str = ""

    @property
    def left(self) -> int:
        return max(0, self.asked - self.done)


def cut_carry(state: FundState, cuts: list[MoveCut]) -> list[Carry]:
    """The flow each cut left, per tier (base units: > 0 the tier still has to gain, < 0 to
    give), a sale's unsold tokens valued at the oracle mark; assets the fund no longer lists
    or cannot price are left out (the next check sees their tier as it is)."""
    per_tier: dict[int, int] = {}
    why: dict[int, list[str]] = {}
    for c in cuts:
        try:
            a = state.asset(c.token)
        except KeyError:
            continue
        if c.purchase:
            amount = c.left
        elif a.priced and a.balance > 0:
            amount = -(c.left * a.value // a.balance)
        else:
            continue
        if amount == 0:
            continue
        per_tier[a.tier] = per_tier.get(a.tier, 0) + amount
        side = "purchase" if c.purchase else "sale"
        why.setdefault(a.tier, []).append(f"{a.symbol} {side} cut: {c.done} of {c.asked} done")
    return [
        Carry(
            t,
            amount,
            f"L{t + 1} to {'gain' if amount > 0 else 'give'} {abs(amount)} more "
            f"(due run's {'; '.join(why[t])})",
        )
        for t, amount in sorted(per_tier.items())
    ]
