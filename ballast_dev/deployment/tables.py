"""Plain-text tables of the fund's state for the demo and the CLI (integers formatted, never
floats)."""

from __future__ import annotations

from typing import Any

from keepers.core.amounts import format_amount

TIER_NAMES = ("L1 cash", "L2 money-market", "L3 high-yield RWA")


def fmt_bps(bps: int) -> str:
    return f"{int(bps) // 100}.{int(bps) % 100:02d}%"


def tier_rows(state: Any) -> list[tuple[str, str, str, str, str]]:
    d = int(state.baseDecimals)
    rows = []
    for t in range(3):
        cfg = state.tiers[t]
        r = int(state.tierRatioBps[t])
        ok = int(cfg.minBps) <= r <= int(cfg.maxBps)
        rows.append(
            (
                TIER_NAMES[t],
                format_amount(int(state.tierValues[t]), d, places=0, rounding="half_up"),
                fmt_bps(r),
                f"{fmt_bps(cfg.targetBps)} [{fmt_bps(cfg.minBps)}-{fmt_bps(cfg.maxBps)}]",
                "in band" if ok else "OUT OF BAND",
            )
        )
    return rows


def render_before_after(before: Any, after: Any) -> str:
    d = int(before.baseDecimals)
    head = f"{'tier':<20}{'before':>16}{'ratio':>9}   {'after':>16}{'ratio':>9}   {'target [band]':<24}{'after is':<12}"
    lines = [head, "-" * len(head)]
    for b, a in zip(tier_rows(before), tier_rows(after), strict=True):
        lines.append(f"{b[0]:<20}{b[1]:>16}{b[2]:>9}   {a[1]:>16}{a[2]:>9}   {a[3]:<24}{a[4]:<12}")
    lines.append("-" * len(head))
    lines.append(
        f"{'total assets':<20}{format_amount(int(before.totalAssets), d, places=0, rounding='half_up'):>16}{'':>9}   {format_amount(int(after.totalAssets), d, places=0, rounding='half_up'):>16}"
    )
    lines.append(
        f"{'top-3 concentration':<20}{fmt_bps(before.top3Bps):>16}{'':>9}   {fmt_bps(after.top3Bps):>16}"
    )
    return "\n".join(lines)
