"""Issue 67, noticed after the exit horizon: KEEPER_PREDICTED_REDEMPTIONS (a fixed amount in base
units for the liquidity check) overlapped KEEPER_HORIZON_FORECAST_BPS (the stated forecast of a
day's redemptions, bps of the fund's value, for the horizon's need). One forecast is kept,
KEEPER_HORIZON_FORECAST_BPS; the liquidity check prepares cash for it; the old name is refused
naming its replacement."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from keepers.core.settings import ConfigError
from keepers.fund.bot import FundBot
from keepers.fund.planning.config import PlanningConfig
from keepers.fund.planning.horizon import day_forecast, need
from keepers.fund.planning.triggers import liquidity_triggers
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
    assert "liquidity check" in desc and "KEEPER_PREDICTED_REDEMPTIONS" in desc


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


def test_liquidity_check__forecast_from_the_bps__fires_when_free_cash_is_under_it():
    cfg = PlanningConfig()
    bot = SimpleNamespace(k=SimpleNamespace(horizon_forecast_bps=500))
    # 60k cash of 960k: the forecast (5%, 48k) fits in the free cash
    ok = _fund(60)
    assert FundBot.forecast(bot, ok) == 48_000 * U  # type: ignore[arg-type]
    assert "redemption_forecast" not in [
        t.code for t in liquidity_triggers(ok, cfg, FundBot.forecast(bot, ok))
    ]  # type: ignore[arg-type]  # noqa: E501
    # 60k cash, 20k of it owed to the queue: 40k free, under the 47k forecast (5% of 940k)
    short = _fund(60, pending_k=20)
    found = liquidity_triggers(short, cfg, FundBot.forecast(bot, short))  # type: ignore[arg-type]
    fc = [t for t in found if t.code == "redemption_forecast"]
    assert fc and fc[0].amount == 47_000 * U
    # the forecast off: nothing prepared ahead of the requests
    off = SimpleNamespace(k=SimpleNamespace(horizon_forecast_bps=0))
    assert FundBot.forecast(off, short) == 0  # type: ignore[arg-type]
