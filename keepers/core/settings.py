"""Keeper settings (pydantic-settings, env prefix ``KEEPER_``).

A bad value refuses to start: :func:`load_settings` turns pydantic's error into a
:class:`ConfigError` whose message names every offending field and the value it was given.
Nested settings use ``__`` (``KEEPER_POLICY__ROLES='{"keeper": {...}}'``) or a JSON policy file
(``KEEPER_POLICY_FILE``).
"""

from __future__ import annotations

import json
import os
import re
import socket
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretBytes,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    SettingsConfigDict,
    SettingsError,
)
from pydantic_settings.sources.utils import parse_env_vars

from keepers.core import errors as core_errors

LOCAL_CHAIN_IDS = (31337, 1337)


# The one configuration error (keepers.core.errors): every section and loader raises it; the
# old per-slice names (FundConfigError, RunConfigError, the planning and cross-chain
# ConfigError) are aliases of it, so their ``except`` sites keep working.
ConfigError = core_errors.ConfigError


class AllowedCall(BaseModel):
    """One (contract, function selector) pair a role may call. ``selector`` "*" allows any."""

    contract: str
    selector: str

    @field_validator("contract")
    @classmethod
    def _address(cls, v: str) -> str:
        if not (v.startswith("0x") and len(v) == 42):
            raise ValueError(f"not a 20-byte hex address: {v!r}")
        int(v, 16)
        return v.lower()

    @field_validator("selector")
    @classmethod
    def _selector(cls, v: str) -> str:
        if v == "*":
            return v
        if not (v.startswith("0x") and len(v) == 10):
            raise ValueError(f"not a 4-byte hex selector: {v!r}")
        int(v, 16)
        return v.lower()


class RolePolicy(BaseModel):
    """What one keeper role may send. Amounts are integers in wei / token base units."""

    allowed: list[AllowedCall] = Field(default_factory=list)
    max_value_wei: int = Field(default=0, ge=0)
    daily_notional_cap: int | None = Field(default=None, ge=0)


class PolicyConfig(BaseModel):
    """Audit policy: per role allowed calls, per-intent value cap, daily notional cap."""

    roles: dict[str, RolePolicy] = Field(default_factory=dict)


def _listed(v: Any) -> Any:
    """A list setting given as one environment string: a JSON list, or comma-separated."""
    if isinstance(v, str):
        text = v.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return v


# a list setting read from one variable, comma-separated or a JSON list
StrList = Annotated[list[str], NoDecode]


class KeeperSettings(BaseSettings):
    """Base settings shared by every keeper process."""

    model_config = SettingsConfigDict(
        env_prefix="KEEPER_", env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    # --- store -----------------------------------------------------------------------------
    db_url: str = "sqlite:///keeper.db"
    # --- node ------------------------------------------------------------------------------
    rpc_url: str = "http://127.0.0.1:8545"
    rpc_timeout_s: float = Field(default=10.0, gt=0)
    # --- build -----------------------------------------------------------------------------
    max_fee_cap_wei: int = Field(default=500 * 10**9, gt=0)
    priority_fee_wei: int = Field(default=10**9, ge=0)
    gas_margin_bps: int = Field(default=2_000, ge=0, le=50_000)
    fee_history_blocks: int = Field(default=10, ge=1, le=1024)
    # --- simulation (keepers.tx.simulation) ------------------------------------------------
    # How every bot simulates its calls before sending (the fund keeper's plans, the
    # executor's batches, the supervisor's fixes and ticks, the cross-chain relay's
    # receiveMessage and lzReceive, per chain), checked when the keeper starts: a choice that cannot work
    # exits 2 naming it.
    simulator: Literal["auto", "node", "fork"] = Field(
        default="auto",
        description="How the bots simulate their calls before sending (the fund keeper's plans, "
        "the executor's batches, the supervisor's fixes and ticks, the cross-chain relay's "
        "receiveMessage and lzReceive on each chain): `node` (the node's eth_simulateV1, nothing to install; independent calls go as one JSON-RPC "
        "batch of separate requests), `fork` (a plan on a throwaway anvil fork, needs anvil, see "
        "KEEPER_ANVIL_BIN; independent calls by eth_call + eth_estimateGas on the node), `auto` "
        "(the node's method when it answers, else the fork). Checked at start-up: a choice that "
        "cannot work refuses to start (exit 2).",
    )
    anvil_bin: str = Field(
        default="anvil",
        min_length=1,
        description="The anvil executable for the fork simulator (KEEPER_SIMULATOR=fork, or auto "
        "on a node without eth_simulateV1): a name looked up on the keeper's PATH or an absolute "
        "path (e.g. /opt/foundry/bin/anvil; a systemd unit's PATH is not the shell's). Not used "
        "by the node simulator, and not needed when the node answers eth_simulateV1.",
    )
    # --- broadcast / confirm ---------------------------------------------------------------
    # a broadcast transaction is fee-bumped at its nonce once this many blocks passed unmined
    # while its sender's nonce did not move either (a queue the chain is mining is not stuck)
    replace_after_blocks: int = Field(default=5, ge=1)
    # ... or after this many seconds while the head has not moved either: a chain that makes
    # blocks only on demand (anvil's automine, some rollups) gives no blocks to count, and a
    # node whose pool holds a transaction it never mines would stall the keeper for good
    stall_replace_after_s: float = Field(default=60.0, gt=0)
    # a nonce the chain has passed with none of this keeper's receipts found is judged (a foreign
    # sender, or rebuild) only if the receipts are still missing this many seconds later
    nonce_recheck_s: float = Field(default=2.0, ge=0)
    fee_bump_bps: int = Field(default=1_250, ge=1_250)
    confirmations_default: int = Field(default=15, ge=1)
    confirmations_by_chain: dict[int, int] = Field(default_factory=lambda: {31337: 1, 1337: 1})
    # --- private submission (keepers.tx.relay; docs/operator/private-submission.md) ---------
    private_rpc_urls: StrList = Field(
        default_factory=list,
        description="Private submission endpoints (Flashbots Protect `https://rpc.flashbots.net`, "
        "MEV Blocker `https://rpc.mevblocker.io`; comma-separated or a JSON list): every "
        "transaction that trades on a pool (purchaseAsset, redeemAsset, a plan execution "
        "carrying a pool leg, and what KEEPER_PRIVATE_SELECTORS / KEEPER_PRIVATE_ROLES list) is "
        "sent to each of them with eth_sendRawTransaction instead of the node, and followed "
        "with their status API. Empty: no relay.",
    )
    private_status_urls: StrList = Field(
        default_factory=list,
        description="The status API of each private endpoint, in the same order "
        "(`https://protect.flashbots.net/tx/` for Flashbots Protect); the hash is appended. "
        "Empty: `<endpoint>/tx/` for each (MEV Blocker's and the local stand-in's).",
    )
    public_mempool_fallback: bool | None = Field(
        default=None,
        description="Whether a transaction that trades on a pool may go to the public pool "
        "when no private endpoint is configured or none answers: `true` allows it (a warning "
        "and keeper_private_fallback_total each time), `false` refuses it (the transaction "
        "waits, retried, until a relay takes it). Unset: allowed on a local chain (31337, "
        "1337) only, with the same warning; refused on any other chain.",
    )
    private_selectors: StrList = Field(
        default_factory=list,
        description="More 4-byte selectors (0x and 8 hex digits) whose transactions are sent "
        "privately, besides the pool trades the keeper knows (comma-separated).",
    )
    private_roles: StrList = Field(
        default_factory=list,
        description="Pipeline roles (`fund`, `executor`, ...) whose every transaction is sent "
        "privately (comma-separated).",
    )
    private_unknown_after_blocks: int = Field(
        default=30,
        ge=1,
        le=10_000,
        description="A private transaction the relay answers UNKNOWN for (it never received "
        "it, or lost it) is treated as dropped after this many blocks: re-signed at its nonce "
        "and sent again (the relays' own drop is FAILED after about 25 blocks).",
    )
    private_timeout_s: float = Field(
        default=5.0, gt=0, description="Timeout of one call to a private endpoint (seconds)."
    )
    # --- worker ----------------------------------------------------------------------------
    batch_size: int = Field(default=64, ge=1)
    poll_interval_s: float = Field(default=0.05, gt=0)
    retry_backoff_s: float = Field(default=1.0, ge=0)
    # --- signer ----------------------------------------------------------------------------
    signer_kind: Literal["raw", "ape", "remote", "aws-kms"] = Field(
        default="raw",
        description="Where the keeper's key is: `raw` (KEEPER_SIGNER_KEY, local chains and "
        "tests), `ape` (an ape keyfile account, KEEPER_SIGNER_ALIAS), `remote` (a JSON-RPC "
        "eth_signTransaction endpoint, KEEPER_SIGNER_URL and KEEPER_SIGNER_ADDRESS) or "
        "`aws-kms` (an AWS KMS key of spec ECC_SECG_P256K1, KEEPER_SIGNER_KMS_KEY_ID; the key "
        "never leaves KMS, the address is derived from its public key and logged at start-up).",
    )
    signer_key: SecretStr | None = None
    signer_alias: str | None = None
    signer_passphrase: SecretStr | None = None
    signer_url: str | None = None
    signer_address: str | None = Field(
        default=None,
        description="The remote signer's address (required with `remote`); with `aws-kms` "
        "optional: the address the KMS key must have, checked at start-up (an alias re-pointed "
        "at another key then refuses to start).",
    )
    signer_kms_key_id: str | None = Field(
        default=None,
        min_length=1,
        description="`aws-kms`: the KMS key that signs: a key id, a key ARN or `alias/NAME` "
        "(spec ECC_SECG_P256K1, usage SIGN_VERIFY; the keeper needs only kms:GetPublicKey and "
        "kms:Sign on it). AWS credentials come from boto3's chain (environment, profile, "
        "instance role), never from a keeper setting.",
    )
    signer_kms_region: str | None = Field(
        default=None,
        min_length=1,
        description="`aws-kms`: the key's AWS region (e.g. eu-west-1); unset, boto3's "
        "(AWS_DEFAULT_REGION, the profile's).",
    )
    signer_kms_endpoint_url: str | None = Field(
        default=None,
        description="`aws-kms`: a KMS endpoint other than the region's public one: a VPC "
        "endpoint (https://vpce-....kms.eu-west-1.vpce.amazonaws.com) or a local stand-in.",
    )
    signer_kms_max_attempts: int = Field(
        default=5,
        ge=1,
        le=20,
        description="`aws-kms`: tries per KMS call when KMS throttles (ThrottlingException) or "
        "is briefly unavailable, with exponential backoff from KEEPER_SIGNER_KMS_BACKOFF_S; "
        "then the intent stays unsigned and the pipeline tries again later (at start-up: exit "
        "2). Nothing is sent unsigned.",
    )
    signer_kms_backoff_s: float = Field(
        default=0.2,
        ge=0,
        le=30,
        description="`aws-kms`: the first retry's wait in seconds, doubled at each retry.",
    )
    # One sender per key: a foreign transaction at this keeper's nonces halts the pipeline
    # (two keepers with one key could execute a plan twice). Off only for tests that simulate it.
    exclusive_signer: bool = True
    # --- policy ----------------------------------------------------------------------------
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    policy_file: Path | None = None
    # --- deprecated: accepted and ignored (the ABIs ship in the package, keepers/abis/) -------
    artifacts_path: Path = Path(".build/__local__.json")
    # --- observability ---------------------------------------------------------------------
    log_json: bool = True
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # /metrics, /healthz, /readyz listen here: loopback unless the operator opens it
    # (0.0.0.0 or an interface address for a Prometheus on another host)
    metrics_host: str = Field(default="127.0.0.1", min_length=1)
    # keeper run's monitor: node health, gas balance and tier ratios every this many seconds
    health_interval_s: float = Field(default=5.0, gt=0)
    # keeper run on SIGTERM / SIGINT: the jobs and loops finish the transaction in flight and
    # end within this many seconds (KEEPER_STOP_TIMEOUT_S)
    stop_timeout_s: float = Field(default=30.0, gt=0)
    # keeper run: the fund bot moves waiting plans on (approvals recorded by `keeper approve`,
    # deadlines) and reads its event triggers (deposits, maturities, price moves) this often,
    # between its cron checks (KEEPER_PLAN_TICK_S)
    plan_tick_s: float = Field(default=30.0, gt=0)
    # --- readiness (/readyz, keeper_bot_unready; keepers.runtime.readiness) -------------------
    ready_max_job_failures: int = Field(
        default=3,
        ge=1,
        le=1_000,
        description='A bot is not ready (/readyz 503, keeper_bot_unready{reason="jobs_failing"} '
        "1) once one of its jobs has failed this many runs in a row; ready again after one run "
        "of it passes.",
    )
    ready_stuck_plan_s: float = Field(
        default=900.0,
        gt=0,
        description='A bot is not ready (keeper_bot_unready{reason="plan_stuck"} 1) once a plan '
        "that should move (approved, or paused for gas) has stood still for this many seconds; "
        "ready again when it moves on. Plans waiting for their approvers do not count.",
    )
    # --- replicas (several `keeper run` on one PostgreSQL store) ------------------------------
    # this process's name in the fleet (`keeper status`, the metrics' replica label); one live
    # process per id: two keepers on one host need their own (KEEPER_REPLICA_ID)
    replica_id: str = Field(
        default_factory=lambda: socket.gethostname()[:64] or "keeper",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
    )
    # a bot's leader holds its lease this long on the database's clock and renews it every
    # third of it; a replica takes the lead of a dead one within about 1 1/3 of it
    # (KEEPER_LEASE_TTL_S; the leader itself stops deciding after 0.8 of it without a renewal)
    lease_ttl_s: float = Field(default=15.0, ge=3.0, le=300.0)
    # `keeper status` lists a replica that stopped or fell silent for this long after it was
    # last seen, then leaves it out of the fleet (KEEPER_FLEET_FORGET_S; one hour)
    fleet_forget_s: float = Field(default=3600.0, gt=0)

    @field_validator("db_url")
    @classmethod
    def _db_url(cls, v: str) -> str:
        if not v.startswith(("sqlite:", "postgresql")):
            raise ValueError(f"expected sqlite:///<file> or postgresql+psycopg://..., got {v!r}")
        return v

    @field_validator(
        "private_rpc_urls", "private_status_urls", "private_selectors", "private_roles",
        mode="before",
    )  # fmt: skip
    @classmethod
    def _split_list(cls, v: Any) -> Any:
        return _listed(v)

    @field_validator("private_rpc_urls", "private_status_urls")
    @classmethod
    def _http_urls(cls, v: list[str]) -> list[str]:
        for url in v:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"expected http(s) URLs, got {url!r}")
        return v

    @field_validator("private_roles")
    @classmethod
    def _roles(cls, v: list[str]) -> list[str]:
        for role in v:  # a pipeline role's name (`fund`, `executor`, `crosschain`, ...)
            if not re.fullmatch(r"[A-Za-z0-9_.:-]+", role):
                raise ValueError(f"expected role names (letters, digits, _ . : -), got {role!r}")
        return v

    @field_validator("private_selectors")
    @classmethod
    def _selectors(cls, v: list[str]) -> list[str]:
        out = []
        for sel in v:
            if not re.fullmatch(r"0x[0-9a-fA-F]{8}", sel):
                raise ValueError(f"expected 4-byte selectors (0x and 8 hex digits), got {sel!r}")
            out.append(sel.lower())
        return out

    @field_validator("rpc_url", "signer_url", "signer_kms_endpoint_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError(f"expected an http(s) URL, got {v!r}")
        return v

    @model_validator(mode="after")
    def _signer_complete(self) -> KeeperSettings:
        if self.signer_kind == "ape" and not self.signer_alias:
            raise ConfigError(
                "KEEPER_SIGNER_KIND='ape': signer_alias is required when signer_kind is 'ape' "
                "(set KEEPER_SIGNER_ALIAS)"
            )
        if self.signer_kind == "remote" and not (self.signer_url and self.signer_address):
            raise ConfigError(
                "KEEPER_SIGNER_KIND='remote': signer_url and signer_address are required for a "
                "remote signer (set KEEPER_SIGNER_URL and KEEPER_SIGNER_ADDRESS)"
            )
        if self.signer_kind == "aws-kms" and not self.signer_kms_key_id:
            raise ConfigError(
                "KEEPER_SIGNER_KIND='aws-kms': signer_kms_key_id is required for a KMS signer "
                "(set KEEPER_SIGNER_KMS_KEY_ID to the key id, its ARN or alias/NAME)"
            )
        if self.private_status_urls and len(self.private_status_urls) != len(self.private_rpc_urls):
            raise ConfigError(
                f"KEEPER_PRIVATE_STATUS_URLS={','.join(self.private_status_urls)!r}: "
                f"{len(self.private_status_urls)} status URLs for "
                f"{len(self.private_rpc_urls)} private endpoints (KEEPER_PRIVATE_RPC_URLS); "
                "give one per endpoint, in the same order, or none"
            )
        if self.policy_file is not None:
            try:
                data = json.loads(Path(self.policy_file).read_text())
            except OSError as err:
                raise ConfigError(
                    f"KEEPER_POLICY_FILE={str(self.policy_file)!r}: cannot read the policy file "
                    f"({err.strerror})"
                ) from None
            except json.JSONDecodeError as err:
                raise ConfigError(
                    f"KEEPER_POLICY_FILE={str(self.policy_file)!r}: the policy file is not JSON "
                    f"({err.msg} at line {err.lineno} column {err.colno})"
                ) from None
            self.policy = PolicyConfig.model_validate(data)
        return self

    def public_fallback_allowed(self, chain_id: int) -> bool:
        """May a transaction meant for a private endpoint go to the public pool on
        ``chain_id``? As set; unset: on a local chain only."""
        if self.public_mempool_fallback is not None:
            return self.public_mempool_fallback
        return chain_id in LOCAL_CHAIN_IDS

    def confirmations_for(self, chain_id: int) -> int:
        """Confirmations required on ``chain_id`` (15 by default, 1 on a local chain)."""
        return self.confirmations_by_chain.get(chain_id, self.confirmations_default)


# Names that hold secrets, wherever they appear (a settings field, an env variable, a profile
# key): their values are never printed, whatever the error.
_SECRET_NAME = re.compile(
    # AWS's credential variables too (AWS_SECRET_ACCESS_KEY ends in _key already): the access
    # key id and the session token of the KMS signer's credentials
    r"(^|_)(key|private_key|passphrase|password|secret|api_secret|mnemonic|access_key_id"
    r"|session_token|security_token)$",
    re.IGNORECASE,
)
REDACTED = "<redacted>"


def is_secret_name(name: str) -> bool:
    """True for a field or variable name whose value must never be shown."""
    return bool(_SECRET_NAME.search(name))


def _secret_values(value: Any, out: set[str]) -> None:
    if isinstance(value, SecretStr | SecretBytes):
        out.add(str(value.get_secret_value()))
    elif isinstance(value, Mapping):
        for k, v in value.items():
            if is_secret_name(str(k)) and isinstance(v, str | bytes | SecretStr | SecretBytes):
                raw = v.get_secret_value() if isinstance(v, SecretStr | SecretBytes) else v
                out.add(raw.decode() if isinstance(raw, bytes) else str(raw))
            else:
                _secret_values(v, out)
    elif isinstance(value, list | tuple):
        for v in value:
            _secret_values(v, out)


# Secret values met outside the environment (a config file's secret fields), registered by
# the loaders that read them: every scrub of the process redacts them as well.
_registered: set[str] = set()


def register_secrets(values: Iterable[str]) -> None:
    """Redact these values too, wherever they appear, for the rest of the process."""
    _registered.update(v for v in values if v and len(v) >= 4)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every known secret value (4+ characters) replaced by ``<redacted>``."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


# A value shaped like a secret, whatever variable it lands in (two variables swapped, a key
# pasted into a path setting): a raw private key (32 bytes hex, with or without 0x) or a
# BIP-39 mnemonic (12-24 lowercase words).
_KEY_SHAPE = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
_MNEMONIC_SHAPE = re.compile(r"^[a-z]+( [a-z]+){11,23}$")


# A private key without its 0x standing alone in a text (a replica id stored before the
# settings refused keys, an error message): no output of the keeper shows 64 bare hex digits
# (hashes are printed with their 0x, calldata and signatures are longer runs), so every one is
# redacted wherever it is printed (keepers.core.redact, the log processor).
_BARE_KEY_TOKEN = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{64}(?![0-9A-Za-z])")


def redact_key_tokens(text: str) -> str:
    """``text`` with every standalone run of exactly 64 hex digits (a private key without its
    0x) replaced by ``<redacted>``."""
    return _BARE_KEY_TOKEN.sub(REDACTED, text) if len(text) >= 64 else text


def redact_stored(value: Any) -> Any:
    """What was read back from the store, fit to print: a free-text value that is a private
    key as a whole (with or without 0x: a replica id, a host, a name) is ``<redacted>``, and
    bare keys inside a text are redacted (`redact_key_tokens`). For identity fields only: a
    hash column holds 0x and 64 hex digits by right, and is not passed here."""
    if isinstance(value, str):
        return REDACTED if _KEY_SHAPE.match(value.strip()) else redact_key_tokens(value)
    if isinstance(value, list | tuple):
        return type(value)(redact_stored(v) for v in value)
    return value


def secret_shaped(value: str) -> set[str]:
    """The secret parts of one configured value: the whole of it when it looks like a key or
    a mnemonic (the key with and without its 0x), the password of a URL (a database URL's
    ``postgresql://user:password@host/db``); empty otherwise."""
    v = value.strip()
    out: set[str] = set()
    if _KEY_SHAPE.match(v):
        bare = v.removeprefix("0x")
        out |= {v, bare, "0x" + bare}
    elif _MNEMONIC_SHAPE.match(v):
        out.add(v)
    if "://" in v:
        try:
            password = urllib.parse.urlsplit(v).password
        except ValueError:
            password = None
        if password:
            out |= {password, urllib.parse.quote(password, safe="")}
    return out


def env_secrets(env: Mapping[str, str] | None = None) -> set[str]:
    """Every secret the environment holds: the value of each variable whose name says it is
    a secret, and, in any variable, a value shaped like one (`secret_shaped`), so a key that
    lands in a path setting is redacted too."""
    env = os.environ if env is None else env
    out: set[str] = set()
    for k, v in env.items():
        if not v:
            continue
        if is_secret_name(k):
            out.add(v)
        out |= secret_shaped(v)
    return out | _registered


def shown_value(loc: tuple[Any, ...], value: Any) -> str | None:
    """How an offending input is shown: never a secret, never a whole document."""
    if any(is_secret_name(str(p)) for p in loc) or isinstance(value, SecretStr | SecretBytes):
        return REDACTED
    if isinstance(value, Mapping | list | tuple | set):
        # a whole (sub-)document: the message names what is wrong instead (an empty one is
        # shown, it is the point)
        return None if value else repr(value)
    return repr(value)


def dotted(loc: tuple[Any, ...]) -> str:
    """``a.b.0`` for a pydantic location."""
    return ".".join(str(part) for part in loc)


def describe_validation_error(
    err: ValidationError,
    name: Callable[[tuple[Any, ...]], str] = dotted,
    root: str = "<settings>",
    env: Mapping[str, str] | None = None,
    first_only: bool = False,
    secrets: Iterable[str] = (),
) -> str:
    """The one translator of pydantic errors for every keeper and deploy configuration.

    Each error reads ``NAME=VALUE: message`` (``NAME: message`` when the input is a whole
    document). Secret fields are shown as ``<redacted>``, and every secret value found in the
    inputs or in the environment is scrubbed from the text, so no message carries a key.
    """
    secrets = env_secrets(env) | set(secrets)
    parts = []
    errors = err.errors(include_url=False)
    for e in errors[:1] if first_only else errors:
        loc = tuple(e["loc"])
        _secret_values(e.get("input"), secrets)
        label = name(loc) if loc else root
        # a missing field has no value of its own (its "input" is the enclosing document)
        value = None if e["type"] == "missing" else shown_value(loc, e.get("input"))
        parts.append(
            f"{label}={value}: {e['msg']}" if value is not None else f"{label}: {e['msg']}"
        )
    return scrub("; ".join(parts), secrets)


# ------------------------------------------------------------------------ the settings tree
#
# One section per bot, each a pydantic-settings class with its own environment prefix:
#
#   core        KEEPER_*              keepers.core.settings.KeeperSettings
#   fund        KEEPER_* (+ fund's)   keepers.fund.settings.FundKeeperSettings
#   planning    seed 001 section 8.1  keepers.fund.planning.config.PlanningConfig
#                (the seed's names, no prefix: REBALANCE_MAX_SLIPPAGE, L1_TARGET_RATIO, ...)
#   executor    KEEPER_EXECUTOR_*     keepers.automation.settings.ExecutorConfig
#   supervisor  KEEPER_SUPERVISOR_*   keepers.automation.settings.SupervisorBotConfig
#   crosschain  BALLAST_CROSSCHAIN_*  keepers.crosschain.config.CrosschainSettings (the path of
#                                     its YAML/JSON file; the file itself is validated by
#                                     keepers.crosschain.config.load_config)
#
# :func:`load_settings` is the one loader and :func:`translate` the one error translator.

SECTIONS: dict[str, str] = {
    "core": "keepers.core.settings:KeeperSettings",
    "fund": "keepers.fund.settings:FundKeeperSettings",
    "planning": "keepers.fund.planning.config:PlanningConfig",
    "executor": "keepers.automation.settings:ExecutorConfig",
    "supervisor": "keepers.automation.settings:SupervisorBotConfig",
    "crosschain": "keepers.crosschain.config:CrosschainSettings",
    "console": "keepers.console.settings:ConsoleSettings",
}


def section_class(name: str) -> type[BaseSettings]:
    """The settings class of section ``name`` (imported on demand: the slices import this
    module, not the other way round)."""
    import importlib

    if name not in SECTIONS:
        raise KeyError(f"unknown settings section {name!r}; known: {', '.join(SECTIONS)}")
    module, cls = SECTIONS[name].split(":")
    section: type[BaseSettings] = getattr(importlib.import_module(module), cls)
    return section


class Settings(BaseModel):
    """The settings tree: one validated section per bot (None where not loaded)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    core: KeeperSettings | None = None
    fund: Any = None  # FundKeeperSettings
    planning: Any = None  # PlanningConfig
    executor: Any = None  # ExecutorConfig
    supervisor: Any = None  # SupervisorBotConfig
    crosschain: Any = None  # CrosschainSettings
    console: Any = None  # ConsoleSettings


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' own environment source, reading ``env`` instead of os.environ (the
    same decoding of JSON values, ``__`` nesting and aliases as a plain ``cls()``)."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._given = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._given, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


def env_names(cls: type[BaseModel], field: str) -> list[str]:
    """The environment variables that set ``field`` of section ``cls``, preferred first."""
    info = cls.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, AliasChoices):
        return [str(a) for a in alias.choices if isinstance(a, str)]
    if isinstance(alias, str):
        return [alias]
    return [str(cls.model_config.get("env_prefix", "")) + field.upper()]


def _lookup(env: Mapping[str, str], name: str) -> bool:
    upper = name.upper()
    return any(k.upper() == upper for k in env)


def variable_name(
    cls: type[BaseModel],
    loc: tuple[Any, ...],
    env: Mapping[str, str],
    overrides: Mapping[str, Any] = {},  # noqa: B006 - read only
) -> str:
    """What to call the input at ``loc``: the environment variable that set it (the one of
    its names that is set, with the path inside it for a JSON value, e.g.
    ``KEEPER_POLICY[roles.keeper.allowed.0.contract]``), or the field's dotted name when it
    was passed as a keyword (``load_settings(ExecutorConfig, scheduler=...)``)."""
    if not loc:
        return f"{cls.model_config.get('env_prefix', '')}*"
    field = str(loc[0])
    if field in overrides:
        return dotted(loc)
    names = env_names(cls, field)
    prefix = names[0][: len(names[0]) - len(field)]
    # the longest nested variable that is set: KEEPER_POLICY__ROLES, else KEEPER_POLICY
    for k in range(len(loc), 1, -1):
        nested = prefix + "__".join(str(p) for p in loc[:k]).upper()
        if _lookup(env, nested):
            rest = dotted(loc[k:])
            return nested + (f"[{rest}]" if rest else "")
    name = next((n for n in names if _lookup(env, n)), names[0])
    rest = dotted(loc[1:])
    return name + (f"[{rest}]" if rest else "")


def _secret_fields(cls: type[BaseModel]) -> set[str]:
    out = set()
    for name, info in cls.model_fields.items():
        if "Secret" in str(info.annotation) or is_secret_name(name):
            out.add(name)
    return out


def translate(
    err: ValidationError,
    cls: type[BaseModel],
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] = {},  # noqa: B006 - read only
) -> ConfigError:
    """The one error translator: a :class:`ConfigError` whose message names each variable and
    its value (``KEEPER_CHAIN_ID='abc': Input should be a valid integer``), secrets redacted.

    A validator that already raised a ConfigError (a rule across variables, worded by the
    section) is passed on as it is."""
    env = os.environ if env is None else env
    first = err.errors(include_url=False)[0]
    ctx_error = (first.get("ctx") or {}).get("error")
    if isinstance(ctx_error, ConfigError):
        return ctx_error
    secrets = set()
    for name in _secret_fields(cls):
        for var in env_names(cls, name):
            secrets |= {v for k, v in env.items() if k.upper() == var.upper() and v}
        value = overrides.get(name)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str) and value:
            secrets.add(value)
    text = describe_validation_error(
        err,
        name=lambda loc: variable_name(cls, loc, env, overrides),
        root=variable_name(cls, (), env),
        env=env,
        secrets=secrets,
    )
    if not first["loc"] and not overrides:
        names = [n for f in cls.model_fields for n in env_names(cls, f)[:1]]
        text += f" (variables: {', '.join(names)})"
    return ConfigError(text)


def private_key_shaped(value: Any) -> bool:
    """True for a value that is a private key (64 hex digits, with or without 0x) or a
    mnemonic: what no free-text setting (a replica id, a path, a role name) may hold."""
    if isinstance(value, SecretStr | SecretBytes) or not isinstance(value, str | Path):
        return False
    v = str(value).strip()
    return bool(_KEY_SHAPE.match(v) or _MNEMONIC_SHAPE.match(v))


def refuse_secret_shaped(
    cls: type[BaseModel],
    env: Mapping[str, str],
    overrides: Mapping[str, Any] = {},  # noqa: B006 - read only
) -> None:
    """A ConfigError (exit 2) when a setting that is not a secret holds a private key or a
    mnemonic: the key would be stored (KEEPER_REPLICA_ID is the replica's name in the store)
    and printed by every later `keeper status`. The message names the setting, never the
    value. The secret settings (KEEPER_SIGNER_KEY, ...) are the only place for a key."""
    secret_fields = _secret_fields(cls)
    for field in cls.model_fields:
        if field in secret_fields:
            continue
        names = env_names(cls, field)
        upper = {n.upper() for n in names}
        # nested variables of a complex setting too (KEEPER_POLICY__ROLES)
        nested = tuple(n.upper() + "__" for n in names)
        given: list[tuple[str, Any]] = [
            (k, v) for k, v in env.items() if k.upper() in upper or k.upper().startswith(nested)
        ]
        if field in overrides:
            given.append((field, overrides[field]))
        for name, value in given:
            if private_key_shaped(value):
                raise ConfigError(
                    f"{name.upper() if name in env else name}={REDACTED}: this value is a "
                    "private key (or a mnemonic), which no setting but the signer's may hold "
                    "(it would be stored and printed); a key goes in KEEPER_SIGNER_KEY or the "
                    "ape account (KEEPER_SIGNER_ALIAS), never here"
                )


def refuse_secret_shaped_everywhere(env: Mapping[str, str] | None = None) -> None:
    """`refuse_secret_shaped` over every section of the settings tree, whether or not this
    command loads it: the CLI checks it first, so a key pasted into any setting (one of a bot
    that is not running too) refuses to start with exit 2."""
    env = os.environ if env is None else env
    for name in SECTIONS:
        refuse_secret_shaped(section_class(name), env)


def _load_section(
    cls: type[BaseSettings], env: Mapping[str, str] | None, overrides: Mapping[str, Any]
) -> Any:
    env = os.environ if env is None else env
    refuse_secret_shaped(cls, env, overrides)
    try:
        values = _MappingEnvSource(cls, env)()
        # a keyword wins over the environment (as pydantic-settings' init source does)
        return cls.model_validate({**values, **overrides})
    except ValidationError as err:
        raise translate(err, cls, env, overrides) from None
    except SettingsError as err:  # a complex value that is not JSON (KEEPER_POLICY='{')
        found = re.search(r'field "(\w+)"', str(err))
        field = found.group(1) if found else ""
        name = variable_name(cls, (field,), env) if field in cls.model_fields else cls.__name__
        value = REDACTED if field in _secret_fields(cls) else None
        shown = "" if value is None else f"={value}"
        raise ConfigError(f"{name}{shown}: not valid JSON for this setting") from None
    except (OSError, json.JSONDecodeError) as err:  # KEEPER_POLICY_FILE unreadable
        raise ConfigError(scrub(str(err), env_secrets(env))) from None


def load_settings(
    section: type[BaseSettings] | str = KeeperSettings,
    /,
    *,
    env: Mapping[str, str] | None = None,
    sections: Iterable[str] | None = None,
    **overrides: Any,
) -> Any:
    """The one loader. ``load_settings(env=..., sections=("core", "executor"))`` returns a
    :class:`Settings` tree with those sections; ``load_settings(ExecutorConfig, scheduler=...)``
    (a class or a section name) returns that one section, keywords overriding the environment.
    ``env`` is the whole environment (os.environ when None). A bad value raises the one
    :class:`ConfigError`, naming the variable and the value (secrets redacted)."""
    if sections is not None:
        return Settings(**{n: _load_section(section_class(n), env, {}) for n in sections})
    cls = section_class(section) if isinstance(section, str) else section
    return _load_section(cls, env, overrides)
