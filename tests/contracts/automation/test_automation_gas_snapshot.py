"""Committed gas snapshot of the automation (tests/gas/automation.json); rewrite with UPDATE_GAS_SNAPSHOT=1."""

from __future__ import annotations

from tests.support.autogas import measure_rebalancer, measure_scheduler, measure_supervisor
from tests.support.gaslib import check_snapshot


def test_gas_snapshot__automation__no_regression(project, chain, accounts):
    measured = {}
    measured.update(measure_scheduler(project, chain, accounts))
    measured.update(measure_rebalancer(project, chain, accounts))
    measured.update(measure_supervisor(project, chain, accounts, (10, 40)))
    check_snapshot("automation", measured)
