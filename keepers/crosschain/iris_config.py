"""The ``iris`` section of the cross-chain config: where Circle's CCTP attestation service is
and how hard the keeper may ask it (kept apart from the client so the config stays I/O-free).
Hosts and limits as Circle documents them (developers.circle.com, "CCTP APIs")."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

IRIS_SANDBOX = "https://iris-api-sandbox.circle.com"
IRIS_MAINNET = "https://iris-api.circle.com"
CIRCLE_RATE_LIMIT_PER_S = 35  # documented: above this every request is refused for 5 minutes
CIRCLE_LOCKOUT_S = 300.0
MAX_REQUESTS_PER_S = 30  # the client's cap may not come closer to Circle's limit than this


class IrisConfig(BaseModel):
    """The ``iris`` section of the cross-chain config (keepers.crosschain.config)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    environment: Literal["sandbox", "mainnet", "custom"] = Field(
        description="sandbox (testnets), mainnet, or custom (base_url, e.g. a proxy)"
    )
    base_url: str | None = Field(default=None, description="only with environment: custom")
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    max_requests_per_s: float = Field(
        default=10.0,
        gt=0,
        le=MAX_REQUESTS_PER_S,
        description="client-side cap; requests are spaced 1/cap apart, so a second holds at "
        "most cap + 1 of them, below Circle's 35",
    )
    min_poll_interval_s: float = Field(default=5.0, ge=0, le=600)
    lockout_s: float = Field(default=CIRCLE_LOCKOUT_S, gt=0, le=3600)
    error_backoff_s: float = Field(default=5.0, gt=0, le=600)

    @model_validator(mode="after")
    def _url(self) -> IrisConfig:
        if self.environment == "custom":
            if not self.base_url or not self.base_url.startswith(("http://", "https://")):
                raise ValueError(
                    f"base_url must be an http(s):// URL with environment custom, "
                    f"got {self.base_url!r}"
                )
        elif self.base_url is not None:
            raise ValueError(
                f"base_url={self.base_url!r} is only for environment custom "
                f"({self.environment} is {self.url})"
            )
        return self

    @property
    def url(self) -> str:
        if self.environment == "sandbox":
            return IRIS_SANDBOX
        if self.environment == "mainnet":
            return IRIS_MAINNET
        assert self.base_url is not None
        return self.base_url.rstrip("/")
