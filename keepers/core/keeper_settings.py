"""The core section of the settings tree (keepers.core.settings): ``KeeperSettings`` (env prefix
``KEEPER_``), the audit policy models (``PolicyConfig``: roles, allowed calls) and the local
chain ids.

A bad value refuses to start: the loader (keepers.core.settings_tree) turns pydantic's error
into a :class:`ConfigError` whose message names every offending field and the value it was
given. Nested settings use ``__`` (``KEEPER_POLICY__ROLES='{"keeper": {...}}'``) or a JSON
policy file (``KEEPER_POLICY_FILE``)."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    SettingsConfigDict,
)

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
