"""The rebalance planner (seed 001 section 3.2), pure: ``plan(state, config, triggers, now)``.

Policy, in execution order (priority 0 for redemption preparation, then 1, 2, ... in the
order the planner emitted the legs; the keeper runs them in priority order):

0. Redemption preparation: free cash must cover pending redemptions plus any
   ``redemption_forecast`` trigger's amount (planned as if already pending). Redeem from L2,
   then L3, never below a tier's band minimum; what cannot be funded that way is listed in
   ``unresolved`` (a manual executeWaterfallLiquidation can go further).
1. Tier flows. A tier outside its comfort zone (its band narrowed to target +/-
   DEVIATION_THRESHOLD; for L1 also [L1 low, L1 high]) is moved to its target; the other tiers
   move only toward their targets, just enough to net the flows to zero (L1 first, as moving
   cash costs no trade). That is the least turnover that resolves every trigger without
   parking a tier on its band edge. Spare cash is bought into L3 first, then L2; cash needed
   is redeemed from L2 first, then L3, in steps that keep L1 under its band maximum (the
   on-chain guard) with purchases in between. If a tier cannot sell or buy enough
   (liquidity, windows, concentration headroom), L1 is refilled / drained through the other
   tier, within that tier's band.
2. Concentration: an asset above its limit is partly redeemed and the cash bought into the
   same tier's assets with headroom, when the tier stays inside its band.

Every leg only moves tiers toward their bands (never out of them), so an action that fails
leaves no tier worse than before.

Venue depth (``depth``, keepers.fund.planning.depth): every purchase and redeem of a depth-limited
asset (a Uniswap V3 pool) is capped at what its venue fills inside REBALANCE_MAX_SLIPPAGE of
the oracle, counting the plan's earlier legs on the same asset; the rest of the tier's need
goes to its other assets (ordered by headroom within depth). Cuts are noted (reason
``depth``), and what they leave of the tiers' goals is ``Plan.carry``, which the keeper runs
in later slices (``carry`` triggers move those tiers to target).

Assets are picked inside a tier: sells prefer instant assets, then matured ones, then those
above their concentration limit, then the most redeemable; buys prefer instant assets with
the most headroom (single-asset and top-3 limits) and skip matured assets. No leg is below
REBALANCE_MIN_AMOUNT. Amounts are integer base units. Whatever cannot be brought inside its
band is listed in ``Plan.unresolved`` with the reason.

Fixes against the seed's generate_rebalance_plan:
- the approval threshold multiplied a USDT amount by 1e18; approval is now approval.py's
  policy over integer base units scaled by the fund's base_decimals;
- float ratios times Decimal values; now integer base units and integer bps everywhere;
- the L1 refill aimed at L1_LOW (8%) and measured L2's spare against its target while the
  deploy aimed at L1's target: every tier now moves to its own target;
- "redemption preparation" compared pending redemptions with L1 + L2 (times 0.8); only L1
  cash pays redemptions, so it compares with free cash and redeems L2 first;
- the L3 "REDEEM" had no asset and the L2 "TRANSFER" was executed as an L3 redeem; every leg
  now names its asset, on-chain function and tier deltas;
- nothing checked the minimum amount on the L2 leg, bands after the move, concentration or
  liquidity; the planner does, and the plan carries the reasons for what it cannot do;
- ``datetime.utcnow()`` and uuid4 made plans unreproducible; time is passed in and the id is
  a hash of the plan's content.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TypedDict

from keepers.fund.planning.actions import (
    Action,
    ActionResult,
    ActionType,
    Carry,
    Plan,
    Unresolved,
    plan_id,
)
from keepers.fund.planning.config import PlanningConfig
from keepers.fund.planning.degraded import FEED_DOWN, PRICE_HELD, degraded_notes
from keepers.fund.planning.depth import AssetDepth
from keepers.fund.planning.explain import explain, slippage_edges
from keepers.fund.planning.metrics import band_distance
from keepers.fund.planning.simulate import apply, apply_action, purchase, redeem
from keepers.fund.planning.state import BPS, AssetState, FundState, Tier
from keepers.fund.planning.top3 import top3_limit, top3_room
from keepers.fund.planning.triggers import Trigger, TriggerKind

# Re-exported: callers import the plan vocabulary and apply() from here.
__all__ = [
    "Action",
    "ActionResult",
    "ActionType",
    "Carry",
    "Plan",
    "PlanOptions",
    "Unresolved",
    "apply",
    "apply_action",
    "plan",
    "plan_id",
]

# ---------------------------------------------------------------------- planner

HEADROOM_BPS = 9_900  # plan to 99% of a concentration limit (see _limit)
CARRY = "carry"  # the trigger code of a carried slice (moves its tier to target)
COST_BUDGET = "cost_budget"  # the reason of what a spent cost budget holds back
IN_FLIGHT = "in_flight"  # the reason of what a plan waiting for approval holds back
HOLD_REASONS = (COST_BUDGET, IN_FLIGHT)


class PlanOptions(TypedDict, total=False):
    """plan()'s optional inputs by name (each described in plan's docstring), for the
    planners that wrap plan() and pass them on (keepers.fund.planning.closing)."""

    depth: Mapping[str, AssetDepth] | None
    budget_spent: str | None
    held_for: str | None


@dataclass
class _Planner:
    config: PlanningConfig
    now: int
    state: FundState  # working state, as if forecast redemptions were already pending
    min_amount: int
    depth: Mapping[str, AssetDepth] = field(default_factory=dict)
    carried: frozenset[int] = frozenset()  # tiers a carried slice schedule moves to target
    actions: list[Action] = field(default_factory=list)
    notes: list[Unresolved] = field(default_factory=list)
    bought: dict[str, int] = field(default_factory=dict)  # cash spent per asset so far
    sold: dict[str, int] = field(default_factory=dict)  # value redeemed per asset so far
    cut: dict[tuple[str, str], int] = field(default_factory=dict)  # (asset, side) -> cut by depth
    cut_bps: dict[tuple[str, str], int] = field(default_factory=dict)  # the bound of that cut
    goal: list[int] = field(default_factory=list)  # desired tier positions (tier_flows)
    # True while planning what must happen now whatever it costs (redemptions, bringing a tier
    # back inside its band): legs may cost up to the slippage limit. False: up to the target.
    urgent: bool = False
    # What this plan's own fills may lower the fund's total by (base units): buys are sized
    # against the total they leave (``_limit``). ``fill_cost``: its pool legs at their bound.
    fill_reserve: int = 0
    fill_cost: int = 0

    # -------------------------------------------------------------- depth

    def buy_room(self, a: AssetState) -> int | None:
        """Cash this plan may still spend on ``a`` inside the cost target (urgent: the slippage
        limit), counting its earlier legs (None: no limit)."""
        return self._room(a, "buy")

    def sell_room(self, a: AssetState) -> int | None:
        return self._room(a, "sell")

    def _room(self, a: AssetState, side: str) -> int | None:
        d = self.depth.get(a.token)
        room = None if d is None else d.room(side, cheap=not self.urgent)
        if room is None:
            return None
        book = self.bought if side == "buy" else self.sold
        return max(0, room - book.get(a.token, 0))

    def cost_bps(self, a: AssetState, side: str) -> int:
        """The venue's marginal cost (0: fills at the oracle)."""
        d = self.depth.get(a.token)
        return 0 if d is None else d.cost_bps(side)

    def bound_bps(self, a: AssetState) -> int:
        d = self.depth[a.token]
        if self.urgent or d.target_bps is None:
            return d.limit_bps
        return min(d.target_bps, d.limit_bps)

    def _depth_cap(self, a: AssetState, side: str, want: int) -> int:
        """``want`` cut to the venue's depth; the cut is remembered for the notes."""
        room = self.buy_room(a) if side == "buy" else self.sell_room(a)
        if room is None or room >= want:
            return want
        if want - room >= self.min_amount:
            key = (a.token, side)
            self.cut[key] = max(self.cut.get(key, 0), want - room)
            self.cut_bps[key] = self.bound_bps(a)
        return room

    def depth_notes(self) -> list[Unresolved]:
        out = []
        for (token, side), amount in self.cut.items():
            a = self.state.asset(token)
            d = self.depth[token]
            used = self.bought.get(token, 0) if side == "buy" else self.sold.get(token, 0)
            bps = self.cut_bps.get((token, side), d.limit_bps)
            bound = "the cost target" if bps != d.limit_bps else "the slippage limit"
            out.append(
                Unresolved(
                    a.tier,
                    "depth",
                    f"{a.symbol}: {side} cut by {amount} to {used} to cost at most {bps} bps "
                    f"under the oracle ({bound}); {d.detail}",
                )
            )
        return out

    # -------------------------------------------------------------- asset legs

    def _limit(self, asset: AssetState, after_fills: bool = False) -> int:
        """The most an asset may hold: its concentration limit less a 1% margin (as the
        AssetController keeps), because each swap's fee and impact lowers the fund's total a
        little and a plan sized to the exact limit would breach it on chain. ``after_fills``
        (what a buy may fill up to): over the total this plan's own fills leave (less
        ``fill_reserve``), so the asset is inside its limit when the plan has landed, where
        the next check measures it."""
        bps = min(asset.max_concentration_bps, self.config.asset_concentration_limit)
        total = self.state.total_assets - (self.fill_reserve if after_fills else 0)
        return bps * max(0, total) * HEADROOM_BPS // (BPS * BPS)

    def bought_past_limit(self, cost: int) -> bool:
        """An asset this plan bought ends above its limit once fills costing ``cost`` have
        lowered the total."""
        reserve, self.fill_reserve = self.fill_reserve, cost
        try:
            return any(
                a.token in self.bought and a.value > self._limit(a, after_fills=True)
                for a in self.state.assets
            )
        finally:
            self.fill_reserve = reserve

    def _headroom(self, asset: AssetState) -> int:
        # the controller's own top-3 room, to the wei (planning/top3.py): none while the others'
        # three largest are over the bound, even for a buy that leaves their sum as it was
        values = [a.value for a in self.state.assets]
        i = next(j for j, a in enumerate(self.state.assets) if a.token == asset.token)
        limit = top3_limit(self.state.total_assets, self.config.top3_concentration_limit)
        own = self._limit(asset, after_fills=True) - asset.value
        head = max(0, min(own, top3_room(values, i, limit)))
        return head if asset.room is None else min(head, asset.room)  # the venue's room now

    def _matured(self, asset: AssetState) -> bool:
        return 0 < asset.matures_at <= self.now

    def _sellable(self, asset: AssetState) -> int:
        """Redeemable now and inside the venue's depth (nothing of an unpriced asset: no
        amount can be sized against an unknown price; nothing of a held one: the controller
        refuses its trades until the step is confirmed)."""
        if not asset.tradable:
            return 0
        room = self.sell_room(asset)
        return asset.sellable_value if room is None else min(asset.sellable_value, room)

    def _buyable(self, asset: AssetState) -> int:
        """Concentration headroom, inside the venue's depth (none for an unpriced or held
        asset)."""
        if not asset.tradable:
            return 0
        room = self.buy_room(asset)
        head = self._headroom(asset)
        return head if room is None else min(head, room)

    def _emit(self, action: Action) -> None:
        """Record a leg at the oracle price; a leg right after one of the same call, asset and
        tiers is merged into it (one transaction instead of two)."""
        self.state = apply_action(self.state, action)
        if action.asset is not None:
            book = self.bought if action.type is ActionType.PURCHASE else self.sold
            book[action.asset] = book.get(action.asset, 0) + action.amount
            d = self.depth.get(action.asset)
            if d is not None and d.limit_bps > 0:  # a pool leg: at most its bound under the oracle
                bound = self.bound_bps(self.state.asset(action.asset))
                self.fill_cost += -(-action.amount * bound // BPS)
        last = self.actions[-1] if self.actions else None
        same = ("type", "asset", "from_tier", "to_tier", "max_tier")
        if (
            last is None
            or any(getattr(last, f) != getattr(action, f) for f in same)
            or ((last.priority == 0) != (action.priority == 0))
        ):
            self.actions.append(action)
            return
        reason = last.reason if action.reason == last.reason else f"{last.reason}; {action.reason}"
        tokens = None
        if last.token_amount is not None and action.token_amount is not None:
            tokens = last.token_amount + action.token_amount
        deltas = tuple(
            x + y for x, y in zip(last.expected_deltas, action.expected_deltas, strict=True)
        )
        self.actions[-1] = replace(
            last,
            amount=last.amount + action.amount,
            token_amount=tokens,
            reason=reason,
            expected_deltas=deltas,  # type: ignore[arg-type]
        )

    def sell(
        self,
        tier: int,
        amount: int,
        floor: int,
        priority: int,
        reason: str,
        round_up: bool = False,
        only: str | None = None,
    ) -> int:
        """Redeem up to ``amount`` from a tier's assets, keeping the tier at or above ``floor``.
        Returns the value redeemed; notes why it fell short."""
        candidates = sorted(
            (
                a
                for a in self.state.assets
                # never a held valuation step (its trades revert) nor an unpriced asset
                if a.tier == tier
                and a.tradable
                and a.sellable_value > 0
                and only in (None, a.token)
            ),
            key=lambda a: (
                not a.instant,
                not self._matured(a),
                -max(0, a.value - self._limit(a)),
                self.cost_bps(a, "sell"),  # the cheapest venue first (0: fills at the oracle)
                -self._sellable(a),
                a.token,
            ),
        )
        done = 0
        for a in candidates:
            room = self.state.position(tier) - floor
            want = amount - done
            if want <= 0 or room < self.min_amount:
                break
            a = self.state.asset(a.token)
            leg = min(max(want, self.min_amount) if round_up else want, a.sellable_value, room)
            leg = self._depth_cap(a, "sell", leg)
            if leg < self.min_amount:
                continue
            self._emit(redeem(tier, a.token, leg, a.tokens_for_value(leg), priority, reason))
            done += leg
        if done < amount:
            self._note_sell_shortfall(tier, amount - done, floor)
        return done

    def buy(
        self,
        tier: int,
        amount: int,
        cap: int,
        priority: int,
        reason: str,
        exclude: str | None = None,
    ) -> int:
        """Purchase up to ``amount`` of a tier's assets, keeping the tier at or below ``cap``."""
        candidates = sorted(
            (
                a
                for a in self.state.assets
                if a.tier == tier
                and not self._matured(a)
                and a.token != exclude
                and not a.price_held  # its trades revert (PriceHeld) until confirmed
            ),
            # instant first; among them, what fills at the oracle, then the cheapest venue
            key=lambda a: (not a.instant, self.cost_bps(a, "buy"), -self._buyable(a), a.token),
        )
        done = 0
        # First towards equal weights over the tier's instant assets, then whatever headroom
        # is left (instant assets first, then asynchronous ones). Filling one asset to its limit before the next would use up the top-3
        # allowance on a few assets and starve the rest of the fund (seen on a new fund's
        # first investment: L2 could not reach its band).
        liquid = [a for a in candidates if a.instant] or candidates
        # (what this call can place: ``amount`` within ``cap``, not a fallback's whole excess)
        fits = max(0, min(amount, cap - self.state.position(tier)))
        equal = (self.state.position(tier) + fits) // max(1, len(liquid))
        for pass_, a in [(0, a) for a in liquid] + [(1, a) for a in candidates]:
            want = min(amount - done, cap - self.state.position(tier))
            current = self.state.asset(a.token)
            leg = min(want, self._headroom(current))
            if pass_ == 0:
                leg = min(leg, max(0, equal - current.value))
            leg = self._depth_cap(current, "buy", leg)
            if leg < self.min_amount:
                continue
            self._emit(purchase(tier, a.token, leg, priority, reason))
            done += leg
        if amount - done >= self.min_amount and self.state.position(tier) < cap:
            self.notes.append(
                Unresolved(
                    tier,
                    "concentration",
                    f"L{tier + 1}: no asset has headroom for {amount - done} more "
                    "(single-asset / top-3 limits, matured assets)",
                )
            )
        return done

    def _note_sell_shortfall(self, tier: int, missing: int, floor: int) -> None:
        if missing < self.min_amount:
            self.notes.append(
                Unresolved(tier, "below_minimum", f"L{tier + 1}: {missing} left, below the minimum")
            )
            return
        if self.state.position(tier) - floor < self.min_amount:
            self.notes.append(
                Unresolved(tier, "liquidity", f"L{tier + 1}: at its floor {floor}, {missing} short")
            )
            return
        closed = [
            a
            for a in self.state.assets
            if a.tier == tier and a.sellable_value == 0 and a.window_opens_at > self.now
        ]
        if closed:
            opens = ", ".join(f"{a.symbol} opens at {a.window_opens_at}" for a in closed)
            self.notes.append(Unresolved(tier, "window", f"L{tier + 1}: {missing} short; {opens}"))
        else:
            self.notes.append(
                Unresolved(
                    tier, "liquidity", f"L{tier + 1}: {missing} short of redeemable liquidity"
                )
            )

    # -------------------------------------------------------------- stages

    def band(self, tier: int) -> tuple[int, int]:
        t, total = self.state.tiers[tier], self.state.total_assets
        return -(-t.min_bps * total // BPS), t.max_bps * total // BPS

    def zone(self, tier: int) -> tuple[int, int]:
        """Comfort zone in bps: band narrowed to target +/- deviation (L1: low/high marks)."""
        t, dev = self.state.tiers[tier], self.config.deviation_threshold
        lo, hi = max(t.min_bps, t.target_bps - dev), min(t.max_bps, t.target_bps + dev)
        if tier == Tier.L1:
            lo, hi = max(lo, self.config.l1_low_ratio), min(hi, self.config.l1_high_ratio)
        return min(lo, t.target_bps), max(hi, t.target_bps)

    def desired(self, force: bool) -> list[int]:
        """Target position per tier: off-zone tiers to target, the others toward it."""
        total = self.state.total_assets
        v = list(self.state.positions())
        targets = [total * t.target_bps // BPS for t in self.state.tiers]
        targets[0] = total - targets[1] - targets[2]
        fixed = [
            force or i in self.carried or not (lo * total <= v[i] * BPS <= hi * total)
            for i, (lo, hi) in enumerate(self.zone(i) for i in range(3))
        ]
        d = [targets[i] if fixed[i] else v[i] for i in range(3)]
        residual = total - sum(d)  # > 0: free tiers must gain it; < 0: give it
        order = (0, 2, 1) if residual > 0 else (0, 1, 2)  # L1 first: no turnover
        for i in order:
            if fixed[i] or residual == 0:
                continue
            gap = targets[i] - d[i]
            step = max(0, min(gap, residual)) if residual > 0 else min(0, max(gap, residual))
            d[i] += step
            residual -= step
        return d

    def prepare_redemptions(self, force: bool) -> None:
        """Cash for redemptions: first from the tiers' planned surplus over their desired
        positions (L2, then L3), so no tier is sold now and bought back later; then from L2,
        then L3, down to their band minimums. The first pass raises L1's whole way to its aim:
        the queue alone left L1's share on the last tier, at its band maximum (test_fund_plan)."""
        if self.state.pending_redemptions <= self.state.cash:
            return
        reason = "prepare pending and forecast redemptions (L1 cash)"
        d, notes = self.desired(force), len(self.notes)
        for tier in (Tier.L2, Tier.L3):
            want = d[Tier.L1] - self.state.position(Tier.L1)  # the queue and L1 to its aim
            surplus = self.state.position(tier) - d[tier]
            if surplus > 0 and want > 0:
                self.sell(tier, min(want, surplus), d[tier], 0, reason, round_up=True)
        need = self.state.pending_redemptions - self.state.cash
        if need <= 0:
            return
        del self.notes[notes:]  # shortfalls of this first pass are not final
        for tier in (Tier.L2, Tier.L3):
            need -= self.sell(tier, need, self.band(tier)[0], 0, reason, round_up=True)
            if need <= 0:
                return
        self.notes.append(
            Unresolved(
                Tier.L1,
                "redemptions",
                f"{need} of redemptions cannot be funded inside the L2/L3 bands now; "
                "a manual executeWaterfallLiquidation can fund them below the bands",
            )
        )

    def l1_room(self) -> int:
        """Cash a redeem may add before L1 passes its band maximum (on-chain guard)."""
        return self.band(Tier.L1)[1] - self.state.position(Tier.L1)

    def demand(self, d: list[int]) -> int:
        """Cash the plan can use: L1's own shortfall plus what the tiers below target can
        still absorb (their assets' headroom); selling beyond it would only park cash in L1."""
        need = d[0] - self.state.position(0)
        for tier in (Tier.L2, Tier.L3):
            gap = d[tier] - self.state.position(tier)
            if gap > 0:
                room = sum(
                    h
                    for a in self.state.assets
                    if a.tier == tier and not self._matured(a)
                    for h in (self._buyable(a),)
                    if h >= self.min_amount
                )
                need += min(gap, room)
        return max(0, need)

    def cheap_first(self, step: Callable[[], None]) -> None:
        """A step that must happen now (redemptions, band restoration): first at the cost
        target on every venue, then what is left up to the slippage limit, so no venue goes
        past the target while another still fills under it. The first pass's notes and cuts
        are provisional (the second may cover them) and are dropped."""
        notes, cut, cut_bps = len(self.notes), dict(self.cut), dict(self.cut_bps)
        self.urgent = False
        step()
        del self.notes[notes:]
        self.cut, self.cut_bps = cut, cut_bps
        self.urgent = True
        step()

    def restore_bands(self) -> None:
        """Every tier back inside its band (``edge_goals``), if one is out."""
        edges = self.edge_goals()
        if edges is not None:
            self.tier_flows(False, edges)

    def edge_goals(self) -> list[int] | None:
        """Positions that bring every tier back inside its band, a quarter of the way from the
        edge it crossed to its target (a margin for prices and fills), moving no other tier
        further than needed; None when every tier is in band. L1 absorbs what L2 and L3 move;
        when L1 itself is out, the others give or take the difference (toward their targets
        first, then as far as their own margins)."""
        total = self.state.total_assets
        v = list(self.state.positions())
        targets = [total * t.target_bps // BPS for t in self.state.tiers]
        if all(self.band(t)[0] <= v[t] <= self.band(t)[1] for t in range(3)):
            return None

        def inner(t: int) -> tuple[int, int]:  # the band less the margin, in base units
            lo, hi = self.band(t)
            return lo + max(0, targets[t] - lo) // 4, hi - max(0, hi - targets[t]) // 4

        d = list(v)
        for t in (Tier.L2, Tier.L3):
            lo, hi = inner(t)
            d[t] = (
                max(lo, min(hi, v[t])) if not self.band(t)[0] <= v[t] <= self.band(t)[1] else v[t]
            )
        d[0] = total - d[1] - d[2]
        lo0, hi0 = inner(Tier.L1)
        if not self.band(Tier.L1)[0] <= d[0] <= self.band(Tier.L1)[1]:
            gap = (hi0 if d[0] > hi0 else lo0) - d[0]  # < 0: L1 gives, > 0: L1 takes
            order = (Tier.L3, Tier.L2) if gap < 0 else (Tier.L2, Tier.L3)
            for bound in (targets, None):  # toward their targets first, then to the margins
                for t in order:
                    lo, hi = inner(t)
                    if gap < 0:
                        room = (targets[t] if bound else hi) - d[t]
                        step = max(0, min(-gap, room))
                        d[t], gap = d[t] + step, gap + step
                    else:
                        room = d[t] - (targets[t] if bound else lo)
                        step = max(0, min(gap, room))
                        d[t], gap = d[t] - step, gap - step
            d[0] = total - d[1] - d[2]
        return d

    def tier_flows(self, force: bool, goal: list[int] | None = None) -> None:
        """Move tiers to ``goal`` (default ``desired``): spend spare cash first, then sell in
        steps that keep L1 under its band maximum, and repeat while something moves."""
        d = list(goal) if goal is not None else self.desired(force)
        self.goal = list(d)
        for _ in range(8):  # each round moves at least min_amount; 8 is plenty in practice
            moved = 0
            for tier in (Tier.L3, Tier.L2):  # spare cash: L3 first (yield), then L2
                want = min(d[tier] - self.state.position(tier), self.state.position(0) - d[0])
                if want >= self.min_amount:
                    moved += self.buy(tier, want, d[tier], 1, f"deploy cash to L{tier + 1}")
            for tier in (Tier.L2, Tier.L3):  # cash needed: L2 first, then L3
                want = min(self.state.position(tier) - d[tier], self.l1_room(), self.demand(d))
                if want >= self.min_amount:
                    moved += self.sell(tier, want, d[tier], 1, f"L{tier + 1} above its target")
            if moved == 0:
                break
        self._fallbacks(d)
        for t in range(3):
            gap = abs(d[t] - self.state.position(t))
            if 0 < gap < self.min_amount and not self._in_band(t):
                # one note per tier: the last pass's (the band pass runs before the target one)
                self.notes = [n for n in self.notes if (n.tier, n.reason) != (t, "below_minimum")]
                self.notes.append(Unresolved(t, "below_minimum", f"L{t + 1}: {gap} < min"))

    def _fallbacks(self, d: list[int]) -> None:
        """A tier could not sell or buy its share: move L1 through the other tier instead,
        within that tier's band (refill) or comfort zone (deploy)."""
        total = self.state.total_assets
        lo, hi = self.zone(Tier.L1)
        for tier in (Tier.L2, Tier.L3):
            if self.state.position(0) * BPS >= lo * total:
                break
            want = min(d[0] - self.state.position(0), self.l1_room())
            if want >= self.min_amount:
                self.sell(tier, want, self.band(tier)[0], 1, "refill L1 (fallback)")
        for tier in (Tier.L3, Tier.L2):
            if self.state.position(0) * BPS <= hi * total:
                break
            want = self.state.position(0) - d[0]
            if want >= self.min_amount:
                cap = self.zone(tier)[1] * total // BPS
                self.buy(tier, want, cap, 1, "deploy cash (fallback)")

    def rotate(self) -> None:
        """Inside each tier: swap the part of an asset above its concentration limit, and the
        whole of a matured asset, into the tier's other assets with headroom."""
        for token in [a.token for a in self.state.assets]:
            a = self.state.asset(token)
            excess = a.value - self._limit(a)
            if excess > 0:
                why = Unresolved(a.tier, "concentration", f"{a.symbol}: {excess} above its limit")
                self._swap(a, excess, f"diversify {a.symbol}", why)
            a = self.state.asset(token)
            if self._matured(a) and a.value >= self.min_amount:
                kind = "liquidity" if a.sellable_value else "window"
                why = Unresolved(a.tier, kind, f"{a.symbol} matured; {a.value} not rolled over")
                self._swap(a, a.value, f"roll over matured {a.symbol}", why)
        total = self.state.total_assets
        top3 = sum(sorted((a.value for a in self.state.assets), reverse=True)[:3])
        if top3 * BPS > self.config.top3_concentration_limit * total:
            self.notes.append(Unresolved(None, "concentration", f"top 3 assets hold {top3}"))

    def _swap(self, a: AssetState, amount: int, reason: str, why: Unresolved) -> None:
        """Redeem up to ``amount`` of ``a`` and buy the same tier's other assets with it, in
        steps that keep the tier inside its band and L1 under its maximum."""
        for step_no in range(8):
            a = self.state.asset(a.token)
            room = sum(
                self._buyable(b)
                for b in self.state.assets
                if b.tier == a.tier and b.token != a.token and not self._matured(b)
            )
            band_room = self.state.position(a.tier) - self.band(a.tier)[0]
            step = min(amount, self._sellable(a), room, band_room, self.l1_room())
            if step < self.min_amount:
                if step_no == 0:
                    self.notes.append(why)
                return
            sold = self.sell(a.tier, step, 0, 1, reason, only=a.token)
            bought = self.buy(a.tier, sold, self.band(a.tier)[1], 1, reason, exclude=a.token)
            amount -= bought
            if bought < self.min_amount:
                return

    def in_zone(self, tier: int) -> bool:
        lo, hi = self.zone(tier)
        total, v = self.state.total_assets, self.state.position(tier)
        return lo * total <= v * BPS <= hi * total

    def _in_band(self, tier: int) -> bool:
        return band_distance(self.state, tier) == 0


def plan(
    state: FundState,
    config: PlanningConfig,
    triggers: Sequence[Trigger],
    now: int,
    depth: Mapping[str, AssetDepth] | None = None,
    budget_spent: str | None = None,
    held_for: str | None = None,
) -> Plan:
    """Plan the moves that bring every tier inside its band (see the module docstring).

    The plan always starts from ``state``; triggers change it in three ways only: the amounts
    of ``redemption_forecast`` triggers are prepared as if already pending, a ``manual_force``
    trigger moves every tier to its target, and a ``carry`` trigger (the slice schedule a
    depth-limited plan left) moves its tier to target. Every trigger is recorded in the plan
    for the report and the approval ticket.

    ``depth`` (keepers.fund.planning.depth, per asset) caps every leg to what its venue can fill
    now: inside the slippage limit for redemptions and for bringing a tier back inside its
    band (``edge_goals``), inside the per-leg cost target for the rest of the way to target.
    What the caps leave undone becomes ``Plan.carry``, the remaining flow per tier that the
    keeper carries into the next cycles (slices, after arbitrage has refilled the venues).

    ``budget_spent`` (the off-chain cost budget, why it is spent): only redemptions and band
    restoration are planned, and the plan says what waits for the budget.

    ``held_for`` (a plan waiting for approval, keepers.fund.planning.inflight): the same, the
    plan saying what waits for which plan.
    """
    trig = tuple(triggers)
    if state.paused:
        paused = Unresolved(None, "paused", "the fund is paused: no rebalance")
        return Plan(plan_id(now, [], "paused"), now, trig, (), (paused,))
    forecast = sum(t.amount or 0 for t in trig if t.code == "redemption_forecast")
    force = any(t.kind is TriggerKind.MANUAL and t.code == "manual_force" for t in trig)
    working = replace(
        state,
        pending_redemptions=state.pending_redemptions + forecast,
        total_assets=state.total_assets - forecast,
    )
    carried = frozenset(int(t.tier) for t in trig if t.code == CARRY and t.tier is not None)

    def made(reserve: int) -> _Planner:
        p = _Planner(
            config,
            now,
            working,
            config.min_amount_units(state.base_decimals),
            depth=dict(depth or {}),
            carried=carried,
            fill_reserve=reserve,
        )
        _stages(p, state, force, budget_spent, held_for)
        return p

    p = made(0)
    # The plan's own pool fills lower the total a little: an asset it bought to its limit over
    # the total before them ends over it, which the next check notes (and would sell back if
    # it were more than the minimum). Then the plan is made again with its buys sized against
    # the total its fills leave (each pool leg at its bound: at most what it costs). A round
    # moves the reserve by about a quarter of a bound's change: three are plenty.
    for _ in range(3):
        if p.fill_cost <= p.fill_reserve or not p.bought_past_limit(p.fill_cost):
            break
        p = made(max(p.fill_cost, p.fill_reserve))
    p.notes += p.depth_notes()
    # Priorities: redemption preparation 0, then the order the planner emitted (1, 2, ...).
    actions = tuple(
        replace(a, priority=0 if a.priority == 0 else i) for i, a in enumerate(p.actions, 1)
    )
    reported = ("redemptions", "concentration", "depth", FEED_DOWN, PRICE_HELD) + HOLD_REASONS
    unresolved = explain(state, actions, p.notes, forecast, p.min_amount, reported)
    unresolved += slippage_edges(state, actions, unresolved, config.rebalance_max_slippage)
    carry = _carry(p) if p.cut else ()
    return Plan(plan_id(now, actions), now, trig, actions, unresolved, carry=carry)


def _stages(
    p: _Planner, state: FundState, force: bool, budget_spent: str | None, held_for: str | None
) -> None:
    """plan()'s stages, in order, on a fresh planner (plan's docstring says each)."""
    # redemptions are owed: cheap venues first, then up to the slippage limit
    p.cheap_first(lambda: p.prepare_redemptions(force))
    unpriced = [a for a in state.assets if a.held_unpriced]
    stepped = [a for a in state.assets if a.held_stepped]
    if state.total_assets <= 0:  # the queue takes the whole fund: what sells now is sold for it
        p.notes.append(Unresolved(None, "redemptions", "pending redemptions take the whole fund"))
    elif unpriced or stepped:
        # Degraded mode: a held asset's price is unknown (feed down) or in doubt (a held
        # valuation step), so its tier's value and every ratio are too. Only what stays safe
        # without that price runs: cash for redemptions, raised from priced assets at their
        # own prices. Tier flows and rotations wait (planning/degraded.py says each reason).
        p.notes.extend(degraded_notes(unpriced, stepped))
    else:
        p.cheap_first(p.restore_bands)  # back inside the bands, up to the slippage limit
        if budget_spent is None and held_for is None:
            p.urgent = False  # the rest of the way at the cost target, the rest carried
            p.tier_flows(force)
            p.rotate()
        else:
            waiting = [t for t in range(3) if t in p.carried or not p.in_zone(t)]
            for reason, why in ((COST_BUDGET, budget_spent), (IN_FLIGHT, held_for)):
                if why is None:
                    continue
                p.notes.append(
                    Unresolved(
                        None,
                        reason,
                        f"{why}: only redemptions and band restoration run; "
                        + (
                            "moving " + ", ".join(f"L{t + 1}" for t in waiting) + " to target waits"
                            if waiting
                            else "nothing else is due"
                        ),
                    )
                )


def _carry(p: _Planner) -> tuple[Carry, ...]:
    """What the depth caps left of each tier's flow: goal less the position after the plan
    (positive: the tier still has to gain). L1's line is the net of the others."""
    out = []
    for t in range(3):
        gap = p.goal[t] - p.state.position(t) if p.goal else 0
        if abs(gap) >= p.min_amount:
            side = "gain" if gap > 0 else "give"
            out.append(Carry(t, gap, f"L{t + 1} to {side} {abs(gap)} more (venue depth)"))
    return tuple(out)
