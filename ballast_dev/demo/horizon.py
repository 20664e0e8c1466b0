"""The demo month's exit horizon line (issue 67): what the fund can pay in base coin within 0,
1, 7 and 30 days, as the keeper shows it (keepers.fund.horizon: FundLens.exitHorizon plus the
pools' part at the keeper's stated cost), read once at the month's end through the keeper's
own reader on the demo's chain."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from keepers.fund.actions import ActionEncoder
from keepers.fund.depth_reader import DepthReader
from keepers.fund.horizon import exit_horizon_lines, exit_horizon_view
from keepers.fund.planning.config import PlanningConfig
from keepers.fund.reader import FundReader
from keepers.fund.settings import FundKeeperSettings
from keepers.tx.contracts import FundAddresses, FundContracts

__all__ = ["horizon_report"]


def horizon_report(fund: Any) -> tuple[dict[str, Any] | None, str]:
    """(the keeper's horizon view, its lines) for ``fund`` (a deployed profile) now."""
    w3 = fund.controller.chain_manager.provider.web3
    addresses = FundAddresses.from_dict(json.loads(json.dumps(fund.addresses(), default=str)))
    contracts = FundContracts(w3, addresses)
    encoder = ActionEncoder(contracts, PlanningConfig())
    defaults = FundKeeperSettings.model_fields
    bot = SimpleNamespace(
        w3=w3,
        addresses=addresses,
        contracts=contracts,
        encoder=encoder,
        depth=DepthReader(contracts, encoder),
        k=SimpleNamespace(
            horizon_pool_cost_bps=defaults["horizon_pool_cost_bps"].default,
            horizon_forecast_bps=defaults["horizon_forecast_bps"].default,
        ),
    )
    view = exit_horizon_view(bot, FundReader(contracts).read())
    return view, "\n".join(exit_horizon_lines(view))
