"""The fund keeper's configuration: KEEPER_* settings (node, chain, deployment, signer, DB,
metrics) plus seed 001 section 8.1's planning variables (keepers.fund.planning.config).

``load_fund_config(env)`` refuses a bad value with a FundConfigError whose message names the
environment variable and the value, e.g. ``KEEPER_CHAIN_ID='abc': Input should be a valid
integer`` or ``L1_TARGET_RATIO + ... = 11000, must be 10000``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from keepers.core.settings import ConfigError, KeeperSettings, load_settings
from keepers.fund.planning.config import PlanningConfig

ENV_PREFIX = "KEEPER_"


FundConfigError = ConfigError  # the one ConfigError (keepers.core.errors), old name kept


class FundKeeperSettings(KeeperSettings):
    """KEEPER_CHAIN_ID, KEEPER_DEPLOYMENT, KEEPER_NATIVE_PRICE, ... on top of KeeperSettings
    (KEEPER_RPC_URL, KEEPER_DB_URL, KEEPER_SIGNER_KEY, KEEPER_METRICS_PORT, ...)."""

    # settings that were removed, refused by name with what replaces them
    removed_settings: ClassVar[dict[str, str]] = {
        "KEEPER_PREDICTED_REDEMPTIONS": "cash ahead of the requests is now kept by "
        "REBALANCE_HORIZON_FLOOR_BPS (the planner keeps the queue plus this share of the fund's "
        "value payable at once, selling for it), and the stated forecast of a day's "
        "redemptions is KEEPER_HORIZON_FORECAST_BPS (bps of the fund's value, what the "
        "ExitHorizonShort alert compares with the 1-day horizon); unset "
        "KEEPER_PREDICTED_REDEMPTIONS",
    }

    chain_id: int | None = Field(default=None, gt=0)  # checked against the node at start
    deployment: Path = Path("scripts/deployments/ethereum-local.json")
    native_price: int = Field(default=600, ge=0)  # whole base units per native coin (gas check)
    execute_timeout_s: float = Field(
        default=300.0,
        gt=0,
        description="How long a plan's sent action may stay unconfirmed (seconds of the keeper's "
        "clock since it was sent) before the keeper raises action_unconfirmed (a warning, once "
        "per action). Nothing is sent again and no job waits for it: the pipeline keeps working "
        "the intent (re-sent, fees bumped), the plan stays approved, each tick follows it, and "
        "the plan goes on once it is final; a plan that stands still past "
        "KEEPER_READY_STUCK_PLAN_S also makes the bot unready (plan_stuck).",
    )
    follow_budget_s: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="How long one job drives the transaction pipeline for one sent action of a "
        "plan before it returns and leaves the action to the next tick (KEEPER_PLAN_TICK_S): a "
        "job never waits on a node that does not answer or a chain that does not mine. On a "
        "chain that confirms within it, one job runs the whole plan.",
    )
    verify_tolerance_bps: int = Field(default=100, ge=0, le=10_000)  # seed: alert above 1%
    # With a PlanExecutor: a frozen plan's on-chain deadline is its approval deadline (or the
    # time it was frozen, when it needs no approval) plus this window; past it the executor
    # refuses every action (PlanExpired) and the keeper aborts the plan and plans afresh.
    # KEEPER_PLAN_EXECUTION_WINDOW_S (seconds, 1 min .. 7 days, default 6 h)
    plan_execution_window_s: int = Field(default=6 * 3_600, ge=60, le=7 * 86_400)
    timelock_lookback_blocks: int = Field(
        default=150_000,
        ge=1,
        le=10_000_000,
        description="How many blocks back `keeper status`, the console and the metrics look for "
        "the FundTimelock's CallScheduled events (read in chunks of 10,000 blocks). It must "
        "cover the timelock's delay plus its 14-day execution window: 150,000 blocks are 20 "
        "days at Ethereum's 12 s; raise it on faster chains (BSC's 3 s blocks: 600,000).",
    )
    horizon_pool_cost_bps: int = Field(
        default=50,
        ge=1,
        le=10_000,
        description="The stated cost at which the exit horizon counts the pool-traded positions "
        "(issue 67): what their pools buy now at most this far under the oracle (from the "
        "pool's state, its price taken no dearer than the oracle), inside the budgets the lens "
        "leaves; each unit sold counted at 1 - this cost in base coin.",
    )
    horizon_forecast_bps: int = Field(
        default=500,
        ge=0,
        le=10_000,
        description="The stated forecast of redemptions within a day, bps of the fund's value "
        "(issue 67): the queue plus this is the next day's need, exported as "
        "rebalance_exit_horizon_need; the ExitHorizonShort alert fires before it outgrows the "
        "1-day exit horizon. It states, it does not move: the cash kept ahead of the requests "
        "is REBALANCE_HORIZON_FLOOR_BPS's (the planner sells toward it). Together they replace "
        "KEEPER_PREDICTED_REDEMPTIONS (a fixed amount in base units for the liquidity check, 0 "
        "by default, stale as the fund grew and 10^12 apart at 6 and 18 decimals), which is "
        "refused by name.",
    )
    fees_lookback_blocks: int = Field(
        default=2_700_000,
        ge=1,
        le=100_000_000,
        description="How many blocks back `keeper status`, the console, plan reports and the "
        "metrics sum the vault's FeesAccrued events for the fees paid to date (one eth_getLogs "
        "call, or chunks of 10,000 blocks when the node refuses the range). 2,700,000 blocks "
        "are a year at Ethereum's 12 s; a range that starts after the deployment's first block "
        "is shown as such ('since block N').",
    )


@dataclass(frozen=True)
class FundConfig:
    keeper: FundKeeperSettings
    planning: PlanningConfig


def load_fund_config(env: Mapping[str, str] | None = None, **overrides: Any) -> FundConfig:
    """Both halves from ``env`` (the whole environment; the process's when None), through the
    one loader: the ``fund`` and ``planning`` sections of the settings tree."""
    keeper = load_settings(FundKeeperSettings, env=env, **overrides)
    planning = load_settings(PlanningConfig, env=env)
    return FundConfig(keeper, planning)
