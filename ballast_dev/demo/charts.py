"""PNG charts for the demo report: tier ratios over time and scheduled-run lag.

Ratios arrive as integer bps and lags as integer seconds; matplotlib only ever sees them as plot
coordinates."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402

TIERS = ("L1 cash", "L2 money-market", "L3 high-yield RWA")
COLORS = ("#2b8cbe", "#31a354", "#de2d26")


def tier_ratio_chart(
    path: Path,
    days: Sequence[float],
    ratios_bps: Sequence[Sequence[int]],
    bands_bps: Sequence[tuple[int, int, int]],
    events: Sequence[tuple[float, str]] = (),
) -> Path:
    """`ratios_bps[i]` = (L1, L2, L3) at `days[i]`; `bands_bps[t]` = (target, min, max)."""
    fig, ax = plt.subplots(figsize=(10, 5.2), dpi=110)
    for t in range(3):
        target, lo, hi = bands_bps[t]
        ax.axhspan(lo / 100, hi / 100, color=COLORS[t], alpha=0.07)
        ax.axhline(target / 100, color=COLORS[t], lw=0.8, ls="--", alpha=0.6)
        ax.plot(days, [r[t] / 100 for r in ratios_bps], color=COLORS[t], lw=1.8, label=TIERS[t])
    for day, label in events:
        ax.axvline(day, color="#777", lw=0.6, ls=":")
        ax.annotate(label, (day, 98), rotation=90, fontsize=7, va="top", ha="right", color="#555")
    ax.set_xlabel("simulated day")
    ax.set_ylabel("share of fund (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Tier ratios (shaded: bands, dashed: targets)")
    ax.legend(loc="center right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def lag_chart(
    path: Path, executed_days: Sequence[float], lags_s: Sequence[int], block_time_s: int
) -> Path:
    """Seconds from a scheduled run's due time to its execution."""
    fig, ax = plt.subplots(figsize=(10, 3.6), dpi=110)
    ax.scatter(executed_days, lags_s, s=12, color="#3182bd", label="run executed")
    ax.axhline(block_time_s, color="#de2d26", lw=0.8, ls="--", label=f"{block_time_s}s block")
    ax.set_xlabel("simulated day")
    ax.set_ylabel("lag (s)")
    ax.set_title("Scheduled-run lag: due -> executed")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
