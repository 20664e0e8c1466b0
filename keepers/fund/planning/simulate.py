"""Simulating actions on a FundState: ``apply(state, plan, prices)``, pure.

The planner builds every plan through ``apply_action`` at the oracle price, and the keeper's
verify step compares the chain against ``apply`` at the quoted prices. allocateToLayer and
executeWaterfallLiquidation are modelled (pro rata to position values; L2 before L3 in
registration order); rebalanceBuffer is decided on chain and is not simulated.
`purchase` and `redeem` build those two actions with their expected deltas (the planner's
and the rollback's).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import ROUND_FLOOR, Decimal, localcontext

from keepers.fund.planning.actions import Action, ActionType, Plan
from keepers.fund.planning.state import AssetState, FundState, Tier


def _scale(amount: int, ratio: Decimal) -> int:
    with localcontext() as ctx:
        ctx.prec = 80
        return int((Decimal(amount) * ratio).to_integral_value(rounding=ROUND_FLOOR))


def tier_deltas(tier: int, cash: int, value: int) -> tuple[int, int, int]:
    """Expected (cash, L2, L3) change when cash moves by ``cash`` and ``tier`` by ``value``."""
    d = [cash, 0, 0]
    d[tier] += value
    return (d[0], d[1], d[2])


def purchase(tier: int, asset: str | None, cash: int, priority: int, reason: str) -> Action:
    """purchaseAsset: ``cash`` of the buffer (L1) buys ``asset`` into ``tier``."""
    return Action(
        ActionType.PURCHASE,
        cash,
        priority,
        reason,
        from_tier=Tier.L1,
        to_tier=tier,
        asset=asset,
        expected_deltas=tier_deltas(tier, -cash, cash),
    )


def redeem(
    tier: int, asset: str | None, value: int, tokens: int | None, priority: int, reason: str
) -> Action:
    """redeemAsset: ``tokens`` of ``asset`` in ``tier``, worth ``value``, sold into the buffer."""
    return Action(
        ActionType.REDEEM,
        value,
        priority,
        reason,
        from_tier=tier,
        to_tier=Tier.L1,
        asset=asset,
        token_amount=tokens,
        expected_deltas=tier_deltas(tier, value, -value),
    )


def _bought(asset: AssetState, value_in: int, cash_in: int | None = None) -> AssetState:
    # Tokens at the position's own price; an empty position is assumed priced 1:1. The venue's
    # room shrinks by the cash it took (``cash_in``, default ``value_in``).
    tokens = value_in * asset.balance // asset.value if asset.value else value_in
    spent = value_in if cash_in is None else cash_in
    room = None if asset.investable_now is None else max(0, asset.investable_now - spent)
    return replace(
        asset,
        balance=asset.balance + tokens,
        value=asset.value + value_in,
        redeemable_now_value=asset.redeemable_now_value + (value_in if asset.instant else 0),
        investable_now=room,
    )


def _sold(asset: AssetState, value_out: int, tokens: int) -> AssetState:
    if value_out > asset.sellable_value:
        raise ValueError(f"{asset.symbol}: redeem {value_out} > redeemable {asset.sellable_value}")
    return replace(
        asset,
        balance=asset.balance - min(tokens, asset.balance),
        value=asset.value - value_out,
        redeemable_now_value=asset.redeemable_now_value - value_out,
    )


def apply_action(state: FundState, action: Action, fill: Decimal = Decimal(1)) -> FundState:
    """One action's effect; ``fill`` = quoted value out / oracle value (1 = at the oracle)."""
    t = action.type
    if t is ActionType.PURCHASE:
        asset = state.asset(action.asset or "")
        return state.replace_asset(
            _bought(asset, _scale(action.amount, fill), action.amount), state.cash - action.amount
        )
    if t is ActionType.REDEEM:
        asset = state.asset(action.asset or "")
        tokens = action.token_amount if action.token_amount is not None else 0
        cash = state.cash + _scale(action.amount, fill)
        return state.replace_asset(_sold(asset, action.amount, tokens), cash)
    if t is ActionType.ALLOCATE:
        return _allocate(state, action.to_tier or 0, action.amount, fill)
    if t is ActionType.WATERFALL:
        return _waterfall(state, action.amount, action.max_tier or Tier.L3, fill)
    raise ValueError(f"{t.value} is decided on chain; simulate it with eth_call")


def _allocate(state: FundState, tier: int, amount: int, fill: Decimal) -> FundState:
    """allocateToLayer model: pro rata to the tier's assets' values (all to the first if none
    has value)."""
    targets = [a for a in state.assets if a.tier == tier]
    if not targets or tier == Tier.L1:
        raise ValueError(f"no assets in tier {tier} to allocate to")
    value_in = _scale(amount, fill)
    held = sum(a.value for a in targets)
    shares = {a.token: (value_in * a.value // held if held else 0) for a in targets}
    shares[targets[0].token] += value_in - sum(shares.values())
    assets = [_bought(a, shares[a.token]) if a.token in shares else a for a in state.assets]
    return state.with_assets(state.cash - amount, assets)


def _waterfall(state: FundState, amount: int, max_tier: int, fill: Decimal) -> FundState:
    """executeWaterfallLiquidation model: L2 before L3, assets in registration order, never
    past ``max_tier``."""
    remaining, cash, assets = amount, state.cash, list(state.assets)
    for tier in range(Tier.L2, max_tier + 1):
        for i, a in enumerate(assets):
            if a.tier != tier or remaining == 0:
                continue
            take = min(remaining, a.sellable_value)
            if take:
                assets[i] = _sold(a, take, a.tokens_for_value(take))
                cash += _scale(take, fill)
                remaining -= take
    return state.with_assets(cash, assets)


def apply(state: FundState, plan: Plan, prices: Mapping[str, Decimal] | None = None) -> FundState:
    """Simulate a plan in priority order. ``prices`` maps a token to its quoted fill relative to
    the oracle (quote out / oracle out, e.g. Decimal("0.995")); missing tokens fill at 1."""
    prices = prices or {}
    for action in plan.ordered():
        state = apply_action(state, action, prices.get(action.asset or "", Decimal(1)))
    return state
