"""Issue 67, noticed after the exit horizon: KEEPER_PREDICTED_REDEMPTIONS (a fixed amount in base
units: the liquidity check's "liquidate early") overlapped KEEPER_HORIZON_FORECAST_BPS (the
stated forecast of a day's redemptions, bps of the fund's value, for the horizon's need) and the
planner's REBALANCE_HORIZON_FLOOR_BPS. One forecast is kept, KEEPER_HORIZON_FORECAST_BPS, which
states (the alert's need); the cash kept ahead of the requests is the floor's, which sells for
it. The old name is refused naming both."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from keepers.core.settings import ConfigError
from keepers.fund.bot import FundBot
from keepers.fund.planning.config import PlanningConfig
from keepers.fund.planning.horizon import day_forecast, need
from keepers.fund.settings import FundKeeperSettings, load_fund_config
from tests.support.fundlib import make_asset, make_state

U = 10**6


@pytest.mark.parametrize("name", ["KEEPER_PREDICTED_REDEMPTIONS", "keeper_predicted_redemptions"])
def test_predicted_redemptions__removed__refused_naming_the_replacement(name):
    with pytest.raises(ConfigError) as err:
        load_fund_config({name: "150000000000"})
    text = str(err.value)
    assert "KEEPER_PREDICTED_REDEMPTIONS was removed" in text
    assert "KEEPER_HORIZON_FORECAST_BPS" in text
    assert "predicted_redemptions" not in FundKeeperSettings.model_fields
    desc = FundKeeperSettings.model_fields["horizon_forecast_bps"].description or ""
    assert "REBALANCE_HORIZON_FLOOR_BPS" in text
    assert "REBALANCE_HORIZON_FLOOR_BPS" in desc and "KEEPER_PREDICTED_REDEMPTIONS" in desc


def _fund(cash_k: int, pending_k: int = 0):
    """``cash_k`` thousand in L1 (``pending_k`` thousand of it queued), 900k invested."""
    assets = [make_asset("MMF", 1, 300_000 * U), make_asset("T", 2, 600_000 * U)]
    return make_state(cash_k * 1_000 * U, assets, pending=pending_k * 1_000 * U)


@pytest.mark.parametrize("decimals_unit", [10**6, 10**18])
def test_day_forecast__bps_of_value__the_need_is_the_queue_plus_it(decimals_unit):
    total = 2_000_000 * decimals_unit
    assert day_forecast(total, 500) == 100_000 * decimals_unit
    assert need(7, total, 500) == 7 + day_forecast(total, 500)
    assert day_forecast(-1, 500) == 0


def test_liquidity_check__no_fixed_forecast__the_floor_keeps_the_cash_ahead():
    cfg = PlanningConfig()
    bot = SimpleNamespace(cfg=cfg, k=SimpleNamespace(horizon_forecast_bps=500))
    # 60k cash, 20k of it owed to the queue: 40k free (4.3% of 940k)
    short = _fund(60, pending_k=20)
    codes = [t.code for t in FundBot.triggers_for(bot, "liquidity", short, 0)]  # type: ignore[arg-type]
    assert "redemption_forecast" not in codes and "l1_low" in codes
    # the cash ahead of the requests is the floor's (tests/offchain/fund/test_fund_horizon_floor.py)
