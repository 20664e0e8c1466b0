"""Cross-chain inventory configuration: validated at start, I/O only in `load_config`.

Units (documented choice): base balances are written in **human units as decimal strings**
(``"250000"`` or ``"1234.56"`` means that many USDC/USDT, each worth $1). A base must be
representable at its token's decimals (``"0.0000001"`` on a 6-decimal token is refused).
The planner works on integers at a common 18-decimal scale; `base_balance_scaled` gives that.

A bad value refuses to start: `load_config` raises `ConfigError`, whose message names every
offending field (dotted path, e.g. ``chains.1.tokens.USDT.decimals``) and the value found.

Sources, first match wins: an explicit path; env ``BALLAST_CROSSCHAIN_CONFIG`` (a path to a
.yaml/.yml/.json file); env ``BALLAST_CROSSCHAIN_CONFIG_JSON`` (the JSON document itself).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Context, Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from keepers.core import errors as core_errors
from keepers.core.settings import describe_validation_error
from keepers.crosschain.iris_config import IrisConfig
from keepers.crosschain.published import published_cctp_domain, published_lz_eid
from keepers.runtime.names import CROSSCHAIN_ENV

SCALE_DECIMALS = 18
"""Every planner amount is an integer at this many decimals (1 USD = 10**18)."""

MAX_TOKEN_DECIMALS = 36

ENV_PATH = CROSSCHAIN_ENV  # BALLAST_CROSSCHAIN_CONFIG
ENV_JSON = "BALLAST_CROSSCHAIN_CONFIG_JSON"

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_CHAIN_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_RPC = re.compile(r"^(https?|wss?)://\S+$")
_CEX_NETWORK = re.compile(r"^[A-Z0-9]{2,20}$")
_EXCHANGE = re.compile(r"^[a-z0-9]{2,32}$")

# ccxt unified network codes of the chains the keeper knows (chain id -> code); a chain
# elsewhere must set `cex_network` to use the CEX route.
DEFAULT_CEX_NETWORKS: dict[int, str] = {
    1: "ERC20",
    56: "BEP20",
    137: "MATIC",
    10: "OPTIMISM",
    42161: "ARBITRUM",
    8453: "BASE",
    43114: "AVAXC",
}


# Wide enough that scaling any configured amount by 10**36 never rounds.
_WIDE = Context(prec=120)
_MAX_BASE = Decimal(10) ** 24


# the string settings with a required form: the pattern, and what the refusal says it must be
_FORMS: dict[str, tuple[re.Pattern[str], str]] = {
    "name": (_CHAIN_NAME, f"match {_CHAIN_NAME.pattern}"),
    "rpc_url": (_RPC, "be an http(s):// or ws(s):// URL"),
    "cex_network": (_CEX_NETWORK, f"match {_CEX_NETWORK.pattern}"),
    "cex_exchange": (_EXCHANGE, "be a ccxt exchange id (e.g. binance)"),
}


def _of_form(field: str | None, v: str | None) -> str | None:
    """``v`` (None: unset) if it has the form ``_FORMS`` gives ``field``; else a ValueError
    naming the field, the form and the value."""
    pattern, must = _FORMS[str(field)]
    if v is not None and not pattern.match(v):
        raise ValueError(f"{field} must {must}, got {v!r}")
    return v


def _eip55(v: str) -> str:
    """``v`` if it is an EIP-55 checksummed address; a mis-cased (or all-lowercase) one is
    refused with the checksummed form in the message (a typo in a checksummed address is
    caught this way, a lowercase one could hide it)."""
    from eth_utils import to_checksum_address

    if not _ADDRESS.match(v):
        raise ValueError(f"must be 0x followed by 40 hex digits, got {v!r}")
    good = to_checksum_address(v)
    if v != good:
        raise ValueError(f"address {v} is not EIP-55 checksummed (expected {good})")
    return v


# How long a move may stand in each state before the CrosschainMoveStuck alert fires
# (``stuck_after_s`` in the config; exported as crosschain_move_stuck_after_seconds{state}).
# Cross waits on Circle's attestation (Ethereum's finality: ~15-20 minutes for a standard
# transfer) or LayerZero's DVNs; the on-chain steps wait on confirmations only.
DEFAULT_STUCK_AFTER_S: dict[str, float] = {
    "awaiting_approval": 86_400.0,
    "transfer_out": 1_800.0,
    "cross": 3_600.0,
    "transfer_in": 1_800.0,
    "invest": 1_800.0,
}


def _is_integral(d: Decimal) -> bool:
    return d == d.to_integral_value()


class Asset(StrEnum):
    USDC = "USDC"
    USDT = "USDT"


class RouteName(StrEnum):
    """Bridges the keeper knows. CCTP moves USDC, USDT0 (LayerZero OFT) moves USDT, and a
    CEX (deposit on one chain, withdraw on another) is the fallback for either asset."""

    CCTP = "CCTP"
    USDT0 = "USDT0"
    CEX = "CEX"


ROUTE_ASSETS: dict[RouteName, frozenset[Asset]] = {
    RouteName.CCTP: frozenset({Asset.USDC}),
    RouteName.USDT0: frozenset({Asset.USDT}),
    RouteName.CEX: frozenset({Asset.USDC, Asset.USDT}),
}


# the one ConfigError (keepers.core.errors); its messages name each field and value
ConfigError = core_errors.ConfigError


class CrosschainSettings(BaseSettings):
    """The ``crosschain`` section of the settings tree: where the bot's config document is.
    The document itself (a YAML or JSON file) is validated by :func:`load_config`."""

    model_config = SettingsConfigDict(env_prefix="BALLAST_CROSSCHAIN_", extra="ignore")

    config: Path | None = None  # BALLAST_CROSSCHAIN_CONFIG: .yaml/.yml/.json file
    config_json: str | None = None  # BALLAST_CROSSCHAIN_CONFIG_JSON: the document inline
    routes: str | None = None  # BALLAST_CROSSCHAIN_ROUTES: route-contract files, os.pathsep
    # BALLAST_CROSSCHAIN_HOLDERS: JSON {chain: address} of each chain's inventory holder
    holders: dict[str, str] = Field(default_factory=dict)
    # the CEX route's credentials and the local CCTP attester's key: secrets, never shown
    cex_api_key: SecretStr | None = Field(default=None, validation_alias="BALLAST_CEX_API_KEY")
    cex_secret: SecretStr | None = Field(default=None, validation_alias="BALLAST_CEX_SECRET")
    cctp_local_attester_key: SecretStr | None = Field(
        default=None, validation_alias="BALLAST_CCTP_LOCAL_ATTESTER_KEY"
    )

    @field_validator("config", "config_json", "routes", mode="before")
    @classmethod
    def _empty_is_unset(cls, v: Any) -> Any:
        return None if v == "" else v

    @field_validator("holders")
    @classmethod
    def _holders_are_addresses(cls, v: dict[str, str]) -> dict[str, str]:
        for chain, a in v.items():
            try:
                _eip55(a)
            except ValueError as err:
                raise ValueError(f"{chain}: {err}") from None
        return v

    def secret(self, name: str) -> str | None:
        """A secret field's value (``cex_api_key``, ``cex_secret``, ``cctp_local_attester_key``)
        for the code that uses it; never for output."""
        value = getattr(self, name)
        return value.get_secret_value() if value is not None else None


def crosschain_settings(env: Mapping[str, str] | None = None) -> CrosschainSettings:
    """The ``crosschain`` section through the one loader (keepers.core.settings.load_settings):
    a bad variable raises the one ConfigError naming it and its value (secrets redacted)."""
    from keepers.core.settings import load_settings

    settings: CrosschainSettings = load_settings(CrosschainSettings, env=env)
    return settings


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TokenConfig(_Strict):
    address: str
    decimals: int = Field(ge=0, le=MAX_TOKEN_DECIMALS)

    @field_validator("address")
    @classmethod
    def _address_is_checksummed(cls, v: str) -> str:
        return _eip55(v)


class ChainConfig(_Strict):
    name: str
    rpc_url: str
    chain_id: int = Field(gt=0)
    cctp_domain: int | None = Field(default=None, ge=0)
    lz_endpoint_id: int | None = Field(default=None, gt=0)
    cex_network: str | None = Field(
        default=None,
        description="ccxt unified network code of this chain on the exchange (ERC20, BEP20...); "
        "defaults from chain_id for well-known chains.",
    )
    usdt0_oft: str | None = Field(
        default=None, description="USDT0 OFT (or OFT adapter) address on this chain."
    )
    lz_endpoint: str | None = Field(
        default=None, description="LayerZero EndpointV2 address on this chain."
    )
    cctp_token_messenger: str | None = None
    cctp_message_transmitter: str | None = None
    rpc_timeout_s: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="Deadline of every call to this chain's node (seconds); a node that does "
        "not answer in time is marked down for the tick and its moves wait.",
    )
    confirmations: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Confirmations a transaction needs on this chain before its step is done; "
        "unset: KEEPER_CONFIRMATIONS_BY_CHAIN, else KEEPER_CONFIRMATIONS_DEFAULT (15). Printed "
        "at start-up.",
    )
    tokens: dict[Asset, TokenConfig]
    base_balances: dict[Asset, Decimal] = Field(
        description="Target balance per asset in human units (decimal string)."
    )
    routes: tuple[RouteName, ...] = ()

    @field_validator("name", "rpc_url", "cex_network")
    @classmethod
    def _has_its_form(cls, v: str | None, info: ValidationInfo) -> str | None:
        return _of_form(info.field_name, v)

    @field_validator("usdt0_oft", "lz_endpoint", "cctp_token_messenger", "cctp_message_transmitter")
    @classmethod
    def _optional_address(cls, v: str | None) -> str | None:
        return None if v is None else _eip55(v)

    @model_validator(mode="after")
    def _published_ids(self) -> ChainConfig:
        """A known chain id's CCTP domain and LayerZero endpoint id are the published ones,
        with or without route files (keepers.crosschain.published)."""
        domain = published_cctp_domain(self.chain_id)
        if self.cctp_domain is not None and domain is not None and self.cctp_domain != domain:
            raise ValueError(
                f"cctp_domain={self.cctp_domain}: Circle's CCTP domain for chain_id "
                f"{self.chain_id} is {domain}"
            )
        eid = published_lz_eid(self.chain_id)
        if self.lz_endpoint_id is not None and eid is not None and self.lz_endpoint_id != eid:
            raise ValueError(
                f"lz_endpoint_id={self.lz_endpoint_id}: LayerZero's endpoint id for chain_id "
                f"{self.chain_id} is {eid}"
            )
        return self

    @property
    def exchange_network(self) -> str | None:
        """The network code used on the exchange (explicit, else the chain id's default)."""
        return self.cex_network or DEFAULT_CEX_NETWORKS.get(self.chain_id)

    @field_validator("base_balances", mode="before")
    @classmethod
    def _no_float_bases(cls, v: Any) -> Any:
        # A float has already lost precision (0.1 is not 1/10): demand strings or integers.
        if isinstance(v, Mapping):
            for asset, amount in v.items():
                if isinstance(amount, float):
                    raise ValueError(
                        f"base balance for {asset} must be a decimal string or an integer, "
                        f"not the float {amount!r}"
                    )
        return v

    @model_validator(mode="after")
    def _consistent(self) -> ChainConfig:
        for asset, base in self.base_balances.items():
            if not base.is_finite() or not 0 <= base < _MAX_BASE:
                raise ValueError(f"base_balances.{asset} must be in [0, 1e24), got {base}")
            token = self.tokens.get(asset)
            if token is None:
                raise ValueError(f"base_balances.{asset} is set but tokens.{asset} is missing")
            places = min(token.decimals, SCALE_DECIMALS)
            if not _is_integral(base.scaleb(places, _WIDE)):
                raise ValueError(
                    f"base_balances.{asset}={base} is finer than {places} decimals "
                    f"(token decimals {token.decimals}, planning scale {SCALE_DECIMALS})"
                )
        if len(set(self.routes)) != len(self.routes):
            raise ValueError(f"routes lists a route twice: {[r.value for r in self.routes]}")
        for route in self.routes:
            if not any(a in self.tokens for a in ROUTE_ASSETS[route]):
                raise ValueError(f"route {route.value} needs a token it can move on this chain")
            if route is RouteName.CCTP and self.cctp_domain is None:
                raise ValueError("route CCTP needs cctp_domain")
            if route is RouteName.USDT0 and self.lz_endpoint_id is None:
                raise ValueError("route USDT0 needs lz_endpoint_id")
            if route is RouteName.CEX and self.exchange_network is None:
                raise ValueError(
                    f"route CEX needs cex_network (no default for chain_id {self.chain_id})"
                )
        return self

    def base_balance_scaled(self, asset: Asset) -> int:
        """Base balance as an integer at the 18-decimal planning scale (0 if unset)."""
        base = self.base_balances.get(asset, Decimal(0))
        return int(
            base.scaleb(SCALE_DECIMALS, _WIDE)
        )  # exact: base has <= 18 places (checked above)

    def supports(self, route: RouteName, asset: Asset) -> bool:
        return route in self.routes and asset in ROUTE_ASSETS[route] and asset in self.tokens


class CrosschainConfig(_Strict):
    trigger_percentage: Decimal = Field(
        description="p in (0, 1): trigger when current <= base * (1 - p)."
    )
    chains: tuple[ChainConfig, ...] = Field(min_length=1)
    cex_exchange: str = Field(
        default="binance", description="ccxt exchange id used by the CEX fallback route."
    )
    iris: IrisConfig | None = Field(
        default=None,
        description="Circle's CCTP attestation service (sandbox, mainnet or a custom URL); "
        "without it CCTP needs the local attester (local chains only).",
    )
    chain_budget_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="What one tick may spend reading one chain (seconds, at least every "
        "chain's rpc_timeout_s): a chain that has not answered by then is marked down and the "
        "other chains go on.",
    )
    stuck_after_s: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_STUCK_AFTER_S),
        description="Seconds a move may stand in each state (awaiting_approval, transfer_out, "
        "cross, transfer_in, invest) before CrosschainMoveStuck fires; states left out keep "
        "their defaults.",
    )
    route_costs: dict[RouteName, int] = Field(
        default_factory=lambda: {RouteName.CCTP: 1, RouteName.USDT0: 2, RouteName.CEX: 10},
        description="Cost of one transfer leg per route (any unit, same for all routes); "
        "used to prefer cheaper routes among plans with equally few transfers.",
    )

    @field_validator("trigger_percentage", mode="before")
    @classmethod
    def _no_float_p(cls, v: Any) -> Any:
        if isinstance(v, float):
            raise ValueError(f"trigger_percentage must be a decimal string, not the float {v!r}")
        return v

    @field_validator("trigger_percentage")
    @classmethod
    def _p_in_open_unit_interval(cls, v: Decimal) -> Decimal:
        if not v.is_finite() or not (0 < v < 1):
            raise ValueError(f"trigger_percentage must be strictly between 0 and 1, got {v}")
        return v

    @field_validator("cex_exchange")
    @classmethod
    def _exchange_id(cls, v: str, info: ValidationInfo) -> str | None:
        return _of_form(info.field_name, v)

    @field_validator("stuck_after_s")
    @classmethod
    def _stuck_states(cls, v: dict[str, float]) -> dict[str, float]:
        for state, seconds in v.items():
            if state not in DEFAULT_STUCK_AFTER_S:
                raise ValueError(
                    f"stuck_after_s.{state}: not a waiting state "
                    f"(one of {', '.join(DEFAULT_STUCK_AFTER_S)})"
                )
            if not seconds > 0:
                raise ValueError(f"stuck_after_s.{state} must be > 0, got {seconds}")
        return {**DEFAULT_STUCK_AFTER_S, **v}

    @field_validator("route_costs")
    @classmethod
    def _costs_non_negative(cls, v: dict[RouteName, int]) -> dict[RouteName, int]:
        for route, cost in v.items():
            if cost < 0:
                raise ValueError(f"route_costs.{route.value} must be >= 0, got {cost}")
        return v

    @model_validator(mode="after")
    def _unique_ids(self) -> CrosschainConfig:
        for label, key in (
            ("name", lambda c: c.name),
            ("chain_id", lambda c: c.chain_id),
            ("cctp_domain", lambda c: c.cctp_domain),
            ("lz_endpoint_id", lambda c: c.lz_endpoint_id),
        ):
            seen: dict[Any, tuple[int, str]] = {}
            for i, chain in enumerate(self.chains):
                value = key(chain)
                if value is None:
                    continue
                if value in seen:
                    j, first = seen[value]
                    raise ValueError(
                        f"chains.{i}.{label}: duplicate {label} {value!r} on chains "
                        f"{first!r} (chains.{j}) and {chain.name!r} (chains.{i})"
                    )
                seen[value] = (i, chain.name)
        for i, chain in enumerate(self.chains):
            if chain.rpc_timeout_s > self.chain_budget_s:
                raise ValueError(
                    f"chains.{i}.rpc_timeout_s={chain.rpc_timeout_s} is above chain_budget_s="
                    f"{self.chain_budget_s}: one call would outlast the chain's budget"
                )
        for chain in self.chains:
            for route in chain.routes:
                if route not in self.route_costs:
                    raise ValueError(f"chain {chain.name!r} uses route {route.value} with no cost")
        return self

    def chain(self, name: str) -> ChainConfig:
        for chain in self.chains:
            if chain.name == name:
                return chain
        raise KeyError(name)

    def route_between(self, asset: Asset, source: str, dest: str) -> RouteName | None:
        """Cheapest route both chains support for `asset` (ties: CCTP, USDT0, CEX order)."""
        usable = self.routes_between(asset, source, dest)
        return usable[0] if usable else None

    def routes_between(self, asset: Asset, source: str, dest: str) -> list[RouteName]:
        """Every route both chains support for `asset`, cheapest first (the fallback order)."""
        src, dst = self.chain(source), self.chain(dest)
        usable = [r for r in RouteName if src.supports(r, asset) and dst.supports(r, asset)]
        return sorted(usable, key=lambda r: (self.route_costs[r], list(RouteName).index(r)))

    def route_cost_table(self) -> dict[tuple[str, str, str], int]:
        """(asset, source, dest) -> cost of the cheapest route; pairs with no route are absent."""
        table: dict[tuple[str, str, str], int] = {}
        for asset in Asset:
            for src in self.chains:
                for dst in self.chains:
                    if src.name == dst.name:
                        continue
                    route = self.route_between(asset, src.name, dst.name)
                    if route is not None:
                        table[(asset.value, src.name, dst.name)] = self.route_costs[route]
        return table


def _describe(err: ValidationError) -> str:
    text = describe_validation_error(err, root="<root>")
    return "invalid cross-chain config:\n  " + text.replace("; ", "\n  ")


def parse_config(data: Mapping[str, Any]) -> CrosschainConfig:
    """Validate an already-loaded document; raise `ConfigError` naming field and value."""
    try:
        return CrosschainConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_describe(err)) from None


def load_config(
    path: str | Path | None = None, env: Mapping[str, str] | None = None
) -> CrosschainConfig:
    """Read and validate the config from `path`, or from the environment (see module doc)."""
    settings = crosschain_settings(env)
    if path is None and settings.config:
        path = settings.config
    if path is not None:
        p = Path(path)
        try:
            text = p.read_text()
        except OSError as err:  # missing, a directory, unreadable
            raise ConfigError(
                f"{ENV_PATH}={str(p)!r}: cannot read the cross-chain config ({err.strerror})"
            ) from None
        try:
            data = yaml.safe_load(text) if p.suffix in (".yaml", ".yml") else json.loads(text)
        except (yaml.YAMLError, json.JSONDecodeError) as err:
            raise ConfigError(f"cannot parse {p}: {err}") from None
    elif settings.config_json:
        try:
            data = json.loads(settings.config_json)
        except json.JSONDecodeError as err:
            raise ConfigError(f"cannot parse ${ENV_JSON}: {err}") from None
    else:
        raise ConfigError(f"no cross-chain config: pass a path or set ${ENV_PATH}")
    if not isinstance(data, Mapping):
        raise ConfigError(f"config must be a mapping at the top level, got {type(data).__name__}")
    return parse_config(data)
