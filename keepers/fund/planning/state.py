"""The fund's on-chain state as the planner sees it (a mirror of AssetController's view call).

Accounting identities, checked on construction:

- ``gross_assets == cash + tiers[1].value + tiers[2].value``
- ``total_assets == gross_assets - pending_redemptions``
- ``tiers[0].value == cash`` and ``tiers[t].value == sum(asset.value for assets in tier t)``

Pending redemptions are paid from L1 cash, so the planner's L1 position is ``cash -
pending_redemptions`` (it may be negative) and every ratio is taken over ``total_assets``; the
three positions then add up to ``total_assets``. ``FundState.build`` derives the totals so a
caller only supplies cash, pending redemptions, the bands and the assets.

All amounts are integers in the base stablecoin's units (6 or 18 decimals); ratios in bps.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import IntEnum

BPS = 10_000

# TieredVault.Phase
OPEN, CLOSING, CLOSED = 0, 1, 2
PHASES = {OPEN: "open", CLOSING: "closing", CLOSED: "closed"}


class Tier(IntEnum):
    """Liquidity tiers, numbered as on chain (LiquidityTier enum)."""

    L1 = 0  # TIER_1_CASH
    L2 = 1  # TIER_2_MMF
    L3 = 2  # TIER_3_HYD


@dataclass(frozen=True)
class TierState:
    tier: int  # 0 = L1, 1 = L2, 2 = L3
    target_bps: int
    min_bps: int
    max_bps: int
    value: int  # base units; for L1 this is `cash`

    def __post_init__(self) -> None:
        if not 0 <= self.min_bps <= self.target_bps <= self.max_bps <= BPS:
            raise ValueError(
                f"tier {self.tier}: need 0 <= min_bps <= target_bps <= max_bps <= {BPS}, got "
                f"{self.min_bps}/{self.target_bps}/{self.max_bps}"
            )


@dataclass(frozen=True)
class AssetState:
    token: str  # address
    symbol: str
    tier: int  # 1 (L2) or 2 (L3)
    balance: int  # token base units
    value: int  # base units at the oracle price, including `pending_value`
    instant: bool  # False for asynchronous RWA (redemption windows / notice periods)
    redeemable_now_value: int  # value redeemable right now (0 outside a redemption window)
    pending_value: int = 0  # value locked in pending async redemption requests
    max_concentration_bps: int = 2_500
    matures_at: int = 0  # unix seconds, 0 if none
    window_opens_at: int = 0  # unix seconds of the next redemption window, 0 if none
    # False while the asset's feed is stale, zero, out of bounds or reverting: its `value` is
    # then the contract's conservative 0 (what exits are paid), not a price; the planner
    # neither buys nor sells it, counts no headroom on it and holds tier rebalancing back
    priced: bool = True
    # cash a purchase can put in now by the venue's own limit (IAssetAdapter.investableNow: an
    # ERC-4626 fund's maxDeposit, which anyone can fill; an asynchronous issuer's room for
    # another request), and the controller's cap on the position's value; None: no limit
    investable_now: int | None = None
    cap: int | None = None
    # False when the venue's room could not be read at this block (its adapter's investableNow
    # or the asset's params reverted, the node did not answer): not known, so no new money to
    # it now (room 0), never "no limit"; the next read asks again
    room_read: bool = True

    @property
    def room(self) -> int | None:
        """Cash a purchase can put into this asset now, by the venue's limit and the
        controller's cap (None: no limit; 0 while the venue's room is not read); what a
        purchase asks beyond it fails on chain."""
        if not self.room_read:
            return 0
        limits = [] if self.investable_now is None else [self.investable_now]
        if self.cap is not None:
            limits.append(self.cap - self.value)
        return max(0, min(limits)) if limits else None

    # True while the controller holds the asset's valuation: its feed stepped further from the
    # last counted answer than the asset's step bound allows (AssetController.priceHold) until
    # the guardian's acceptPrice or the move has stood long enough. `value` is then at the
    # stepped answer, which the controller refuses to trade at (PriceHeld): the planner treats
    # it as it treats an unpriced asset, with its own reason (planning.degraded.PRICE_HELD)
    price_held: bool = False

    @property
    def held_unpriced(self) -> bool:
        """Held (a balance or a pending request) while its price is unknown."""
        return not self.priced and (self.balance > 0 or self.pending_value > 0)

    @property
    def held_stepped(self) -> bool:
        """Held (a balance or a pending request) while its valuation step is held."""
        return self.priced and self.price_held and (self.balance > 0 or self.pending_value > 0)

    @property
    def tradable(self) -> bool:
        """Priced at an answer the controller trades at: neither unpriced nor held."""
        return self.priced and not self.price_held

    def __post_init__(self) -> None:
        if self.tier not in (Tier.L2, Tier.L3):
            raise ValueError(f"asset {self.symbol}: tier must be 1 (L2) or 2 (L3), got {self.tier}")
        for name in ("balance", "value", "redeemable_now_value", "pending_value"):
            if getattr(self, name) < 0:
                raise ValueError(f"asset {self.symbol}: {name} must be >= 0")
        for name in ("investable_now", "cap"):
            if (getattr(self, name) or 0) < 0:
                raise ValueError(f"asset {self.symbol}: {name} must be >= 0")

    @property
    def sellable_value(self) -> int:
        """Value that a redeemAsset call can turn into cash now."""
        return max(0, min(self.redeemable_now_value, self.value - self.pending_value))

    def tokens_for_value(self, value: int) -> int:
        """Token amount worth ``value`` at the oracle mark (rounded up, capped at balance)."""
        if self.value == 0:
            return 0
        return min(self.balance, -(-value * self.balance // self.value))


@dataclass(frozen=True)
class FundState:
    timestamp: int
    base_decimals: int
    total_assets: int  # net of pending redemptions
    gross_assets: int  # cash + L2 value + L3 value
    cash: int  # L1 balance held by the fund
    pending_redemptions: int
    tiers: tuple[TierState, TierState, TierState]
    assets: tuple[AssetState, ...] = field(default_factory=tuple)
    paused: bool = False
    # the vault's wind-down phase (TieredVault.phase: OPEN, CLOSING, CLOSED; issue 67): while
    # closing the planner only sells toward cash (keepers.fund.planning.closing)
    phase: int = 0

    def __post_init__(self) -> None:
        if self.phase not in PHASES:
            raise ValueError(f"phase must be one of {sorted(PHASES)}, got {self.phase}")
        if self.base_decimals not in (6, 18):
            raise ValueError(f"base_decimals must be 6 or 18, got {self.base_decimals}")
        if len(self.tiers) != 3 or [t.tier for t in self.tiers] != [0, 1, 2]:
            raise ValueError("tiers must be exactly L1, L2, L3 in order")
        if sum(t.target_bps for t in self.tiers) != BPS:
            raise ValueError("tier targets must sum to 10000 bps")
        if self.cash < 0 or self.pending_redemptions < 0:
            raise ValueError("cash and pending_redemptions must be >= 0")
        if self.tiers[0].value != self.cash:
            raise ValueError(f"tiers[0].value {self.tiers[0].value} != cash {self.cash}")
        for t in (1, 2):
            held = sum(a.value for a in self.assets if a.tier == t)
            if self.tiers[t].value != held:
                raise ValueError(f"tiers[{t}].value {self.tiers[t].value} != assets' {held}")
        gross = self.cash + self.tiers[1].value + self.tiers[2].value
        if self.gross_assets != gross:
            raise ValueError(f"gross_assets {self.gross_assets} != cash + L2 + L3 = {gross}")
        if self.total_assets != gross - self.pending_redemptions:
            raise ValueError(
                f"total_assets {self.total_assets} != gross - pending_redemptions "
                f"= {gross - self.pending_redemptions}"
            )

    # ------------------------------------------------------------------ builders

    @classmethod
    def build(
        cls,
        *,
        timestamp: int,
        base_decimals: int,
        cash: int,
        pending_redemptions: int,
        bands: Sequence[tuple[int, int, int]],
        assets: Iterable[AssetState],
        paused: bool = False,
        phase: int = 0,
    ) -> FundState:
        """State from its primary facts; ``bands`` is (target, min, max) bps per tier."""
        assets = tuple(assets)
        values = [cash] + [sum(a.value for a in assets if a.tier == t) for t in (1, 2)]
        tiers = tuple(
            TierState(tier=t, target_bps=b[0], min_bps=b[1], max_bps=b[2], value=values[t])
            for t, b in enumerate(bands)
        )
        gross = sum(values)
        return cls(
            timestamp=timestamp,
            base_decimals=base_decimals,
            total_assets=gross - pending_redemptions,
            gross_assets=gross,
            cash=cash,
            pending_redemptions=pending_redemptions,
            tiers=tiers,  # type: ignore[arg-type]
            assets=assets,
            paused=paused,
            phase=phase,
        )

    def with_assets(self, cash: int, assets: Iterable[AssetState]) -> FundState:
        """Same bands and redemptions, new cash and positions (totals re-derived)."""
        return FundState.build(
            timestamp=self.timestamp,
            base_decimals=self.base_decimals,
            cash=cash,
            pending_redemptions=self.pending_redemptions,
            bands=[(t.target_bps, t.min_bps, t.max_bps) for t in self.tiers],
            assets=assets,
            paused=self.paused,
            phase=self.phase,
        )

    # ------------------------------------------------------------------ views

    def position(self, tier: int) -> int:
        """Tier position the bands apply to: L1 is cash net of pending redemptions."""
        if tier == Tier.L1:
            return self.cash - self.pending_redemptions
        return self.tiers[tier].value

    def positions(self) -> tuple[int, int, int]:
        return (self.position(0), self.position(1), self.position(2))

    def asset(self, token: str) -> AssetState:
        for a in self.assets:
            if a.token == token:
                return a
        raise KeyError(token)

    def replace_asset(self, new: AssetState, cash: int) -> FundState:
        assets = [new if a.token == new.token else a for a in self.assets]
        return self.with_assets(cash, assets)


def asset_with(asset: AssetState, **changes: int) -> AssetState:
    """``dataclasses.replace`` for AssetState (kept for readable call sites)."""
    return replace(asset, **changes)  # type: ignore[arg-type]
