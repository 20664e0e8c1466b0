"""The fund keeper's configuration: KEEPER_* settings (node, chain, deployment, signer, DB,
metrics) plus seed 001 section 8.1's planning variables (keepers.fund.planning.config).

``load_fund_config(env)`` refuses a bad value with a FundConfigError whose message names the
environment variable and the value, e.g. ``KEEPER_CHAIN_ID='abc': Input should be a valid
integer`` or ``L1_TARGET_RATIO + ... = 11000, must be 10000``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from keepers.core import errors as core_errors
from keepers.core.settings import KeeperSettings, describe_validation_error
from keepers.fund.planning.config import ConfigError, PlanningConfig, load_planning_config

ENV_PREFIX = "KEEPER_"


class FundConfigError(core_errors.ConfigError):
    """A bad configuration value; the message names the environment variable."""


class FundKeeperSettings(KeeperSettings):
    """KEEPER_CHAIN_ID, KEEPER_DEPLOYMENT, KEEPER_NATIVE_PRICE, ... on top of KeeperSettings
    (KEEPER_RPC_URL, KEEPER_DB_URL, KEEPER_SIGNER_KEY, KEEPER_METRICS_PORT, ...)."""

    chain_id: int | None = Field(default=None, gt=0)  # checked against the node at start
    deployment: Path = Path("scripts/deployments/ethereum-local.json")
    native_price: int = Field(default=600, ge=0)  # whole base units per native coin (gas check)
    anvil_bin: str = "anvil"  # for the simulation fork
    execute_timeout_s: float = Field(default=300.0, gt=0)  # per action, through the pipeline
    verify_tolerance_bps: int = Field(default=100, ge=0, le=10_000)  # seed: alert above 1%
    predicted_redemptions: int = Field(default=0, ge=0)  # base units, liquidity check forecast


@dataclass(frozen=True)
class FundConfig:
    keeper: FundKeeperSettings
    planning: PlanningConfig


def _env_name(loc: tuple[Any, ...]) -> str:
    return ENV_PREFIX + "__".join(str(p) for p in loc).upper()


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def load_fund_config(env: Mapping[str, str] | None = None, **overrides: Any) -> FundConfig:
    """Both halves from ``env`` (the process environment when None)."""
    env = dict(os.environ if env is None else env)
    keeper_values: dict[str, Any] = {}
    for k, v in env.items():
        if not k.upper().startswith(ENV_PREFIX):
            continue
        path = k[len(ENV_PREFIX) :].lower().split("__")
        if path[0] not in FundKeeperSettings.model_fields:
            continue
        # nested settings as pydantic-settings reads them in `keeper run`:
        # KEEPER_POLICY__ROLES='{"keeper": {...}}' -> {"policy": {"roles": {...}}}
        node = keeper_values
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise FundConfigError(f"{k}: {ENV_PREFIX}{path[0].upper()} is set as a whole too")
        node[path[-1]] = _json_or_text(v) if len(path) > 1 else v
    keeper_values.update(overrides)
    try:
        # init kwargs, not the process env: the mapping given is the whole configuration.
        keeper = FundKeeperSettings.model_validate(keeper_values)
    except ValidationError as err:
        msg = describe_validation_error(
            err, name=_env_name, root=ENV_PREFIX + "SETTINGS", env=env, first_only=True
        )
        raise FundConfigError(msg) from None
    try:
        planning = load_planning_config(env)
    except ConfigError as err:
        raise FundConfigError(str(err)) from None
    return FundConfig(keeper, planning)
