"""Fixtures for the pure fund-planning tests."""

from __future__ import annotations

import pytest

from keepers.fund.planning.config import PlanningConfig, load_planning_config


@pytest.fixture(scope="session")
def cfg() -> PlanningConfig:
    return load_planning_config({})
