"""Config of the automation bots (pydantic-settings; env prefixes ``KEEPER_EXECUTOR_`` and
``KEEPER_SUPERVISOR_``). They are the ``executor`` and ``supervisor`` sections of the settings tree:
load with :func:`keepers.core.settings.load_settings`, which turns a bad value into the one
ConfigError naming the variable and the value."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _check_address(v: str) -> str:
    if not (isinstance(v, str) and v.startswith("0x") and len(v) == 42):
        raise ValueError(f"not a 20-byte hex address: {v!r}")
    int(v, 16)
    return v


class ExecutorConfig(BaseSettings):
    """The scheduler executor."""

    model_config = SettingsConfigDict(env_prefix="KEEPER_EXECUTOR_", extra="ignore")

    scheduler: str
    role: str = "executor"  # the audit-policy role its intents carry
    max_batch_runs: int = Field(default=100, ge=1, le=1_000)
    max_batch_gas: int = Field(default=25_000_000, ge=500_000)
    fee_margin_bps: int = Field(default=12_000, ge=0, le=1_000_000)
    max_due_scan: int = Field(default=500, ge=1, le=5_000)  # nextDueRuns(maxCount)
    # nextDueRuns walks lookbackSlots slots on chain (heavy); between these scans the log index
    # (RunScheduled events) says what is due
    due_scan_every_s: int = Field(default=30, ge=0)
    log_lookback_blocks: int = Field(default=10_000, ge=0)
    interval_s: float = Field(default=0.2, gt=0)
    pipeline_passes: int = Field(default=3, ge=0, le=100)  # pipeline passes per tick
    unbatched: bool = False  # one execute(id) per run: the benchmark's baseline
    # A fund rebalancer (trustedTarget) whose controller has a held feed down: its due runs are
    # held back (the controller moves nothing in such a run, and the run would book the next one
    # a whole interval later), executed at once when the feed is usable again
    # (keepers.automation.held); held_retry_s > 0 lets one through per that many seconds
    # meanwhile (0, the default: none; each one is a paid run that moves nothing while the feed
    # is down, a probe of the chain's own verdict); the controller's verdict is re-read at most
    # every held_check_every_s while such a run is due
    held_retry_s: int = Field(default=0, ge=0)
    held_check_every_s: int = Field(default=15, ge=0)
    # The scheduler credits executions (issue 68: pull payment); the keeper withdraws its credit
    # to its own address once it reaches this many wei (read with every due scan), so what it
    # earned comes back to pay its gas. A withdrawal and the credit written again after it cost
    # about 48,700 gas: at 0.1 native that is under 1% of the credit up to 20 gwei. 0: never
    # (the credit stays owed, shown by keeper_executor_credit_wei and `keeper status`).
    withdraw_credit_above_wei: int = Field(default=10**17, ge=0)

    @field_validator("scheduler")
    @classmethod
    def _address(cls, v: str) -> str:
        return _check_address(v)


class SupervisorBotConfig(BaseSettings):
    """The supervisor keeper: recovers stuck recurring tasks at once, pages on low runway."""

    model_config = SettingsConfigDict(env_prefix="KEEPER_SUPERVISOR_", extra="ignore")

    scheduler: str
    supervisor: str | None = None
    registry: str | None = None
    rebalancers: list[str] = Field(default_factory=list)  # standard ones to watch as well
    funders: list[str] = Field(default_factory=list)  # watched besides the tasks' funders
    role: str = "supervisor"
    scan_every_s: int = Field(default=60, ge=1)  # full bookedRun() scan of every task
    # a week of warning at a daily cadence (the local profiles' funders emit LowRunway at 7 too)
    runway_alert_intervals: int = Field(default=7, ge=1)
    interval_s: float = Field(default=1.0, gt=0)
    pipeline_passes: int = Field(default=3, ge=0, le=100)
    max_fixes_per_tick: int = Field(default=200, ge=1)
    # A stuck fund rebalancer (trustedTarget) whose controller has a held feed down is re-booked
    # at most once per held_fix_every_s (0: no limit): the first fix keeps its booking, which
    # the executor then holds; more would only pay for runs someone else executes on a
    # valuation without the held position. A fix goes at once when the feed is usable again.
    held_fix_every_s: int = Field(default=86_400, ge=0)
    held_check_every_s: int = Field(default=15, ge=0)

    @field_validator("scheduler", "supervisor", "registry")
    @classmethod
    def _address(cls, v: str | None) -> str | None:
        return None if v is None else _check_address(v)

    @field_validator("rebalancers", "funders")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        return [_check_address(a) for a in v]

    @model_validator(mode="after")
    def _something_to_watch(self) -> SupervisorBotConfig:
        if not (self.supervisor or self.registry or self.rebalancers):
            raise ValueError("set at least one of supervisor, registry, rebalancers")
        return self
