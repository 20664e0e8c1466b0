"""A pool leg's minOut from its fill and a signed leg's band (issue 62), pure: no chain."""

from __future__ import annotations

import pytest

from keepers.fund.planning.config import ConfigError, load_planning_config
from keepers.fund.planning.fills import (
    min_out_from_fill,
    purchase_cash_floor,
    redeem_floor,
    signed_band,
)
from keepers.fund.planning.risk import Quote, min_out

CFG = load_planning_config({})


@pytest.mark.parametrize("decimals", [6, 18])
def test_min_out_from_fill__the_fill_less_the_tolerance__not_the_oracle_less_the_stop(decimals):
    oracle = 2_000_000 * 10**decimals
    fill = oracle * 9_976 // 10_000  # 24 bps under the oracle with no searcher
    floor = oracle * (10_000 - CFG.slippage_block_bps) // 10_000
    got = min_out_from_fill(fill, floor, CFG)
    assert got == fill * 9_990 // 10_000  # REBALANCE_FILL_TOLERANCE_BPS=10 by default
    # the old rule offered the pool everything down to 200 bps under the oracle
    assert got - min_out(oracle, CFG) > oracle * 160 // 10_000  # 200 - 24 - 10 bps
    # never under the floor (the stop's, or the signed band's)
    assert min_out_from_fill(fill, fill, CFG) == fill


def test_fill_tolerance__above_the_stop__refused_naming_the_variable():
    with pytest.raises(ConfigError, match="REBALANCE_FILL_TOLERANCE_BPS=300"):
        load_planning_config({"REBALANCE_FILL_TOLERANCE_BPS": "300"})
    with pytest.raises(ConfigError, match="REBALANCE_FILL_TOLERANCE_BPS"):
        load_planning_config({"REBALANCE_FILL_TOLERANCE_BPS": "-1"})
    assert (
        load_planning_config({"REBALANCE_FILL_TOLERANCE_BPS": "0"}).rebalance_fill_tolerance_bps
        == 0
    )


def test_signed_band__shortfall_plus_tolerance_plus_margin__capped_at_the_block():
    q = Quote(quote_out=9_976, oracle_out=10_000)  # 24 bps short
    assert signed_band(q, CFG) == 24 + 10 + 50
    assert signed_band(Quote(9_000, 10_000), CFG) == CFG.slippage_block_bps  # 1000 + 60: capped
    assert signed_band(None, CFG) == CFG.slippage_block_bps  # no pool: the stop binds
    tight = load_planning_config({"REBALANCE_SIGNED_BAND_MARGIN_BPS": "0"})
    assert signed_band(q, tight) == 34


def test_band_floors__the_executors_rule():
    assert purchase_cash_floor(1_000_000, 84) == 991_600
    assert redeem_floor(1_000_000, 84) == 991_600
    assert purchase_cash_floor(1_000_000, 10_000) == 0 == redeem_floor(5, 20_000)
