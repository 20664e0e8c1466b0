"""Deployment profiles: the fund's configuration as a validated file (assets, feeds, tiers,
roles), and the code that deploys it.

`load_profile(path)` refuses a bad file with an error naming the field and value;
`deploy_profile(profile, deployer, accounts)` deploys, wires, hands risk-increasing powers to the
timelock and returns a FundDeployment; `write_addresses` records it per network.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from eth_utils import is_checksum_address, to_checksum_address
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from ballast_dev.deployment.fund import (
    FEED_DECIMALS,
    FundDeployment,
    MoveLimitsSpec,
    RiskSpec,
    add_asset,
    deploy_core,
    deploy_timelock,
    grant_roles,
    hand_over,
)
from ballast_dev.deployment.record import DirectSteps
from keepers.core.settings import LOCAL_CHAIN_IDS, describe_validation_error

DEPLOYMENTS_DIR = Path(__file__).resolve().parents[2] / "scripts" / "deployments"
ZERO_ADDRESS = "0x" + "0" * 40


def _address(v: str) -> str:
    """A real 20-byte address: hex, EIP-55 checksum when mixed-case, never the zero address
    (the example profile's placeholders must be filled in before anything is sent)."""
    if not isinstance(v, str) or len(v) != 42 or not v.startswith("0x"):
        raise ValueError(f"not a 20-byte hex address (0x + 40 hex digits): {v!r}")
    try:
        int(v[2:], 16)
    except ValueError:
        raise ValueError(f"not a hex address: {v!r}") from None
    if v.lower() == ZERO_ADDRESS:
        raise ValueError("the zero address (a placeholder to fill in?)")
    digits = v[2:]
    mixed = digits != digits.lower() and digits != digits.upper()
    if mixed and not is_checksum_address(v):
        raise ValueError(f"bad EIP-55 checksum: {v!r}, expected {to_checksum_address(v)!r}")
    return to_checksum_address(v)


Address = Annotated[
    str,
    AfterValidator(_address),
    WithJsonSchema({"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"}),
]
# a role: an address, or on a local chain an index into the test accounts
RoleRef = Annotated[int | str, AfterValidator(lambda v: v if isinstance(v, int) else _address(v))]


class ProfileError(ValueError):
    pass


class SafeSpec(BaseModel):
    """The admin Safe: a new one (``owners`` and ``threshold``) or an existing one (``address``;
    ``owners`` / ``threshold``, when given, are checked on chain before the first transaction)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    owners: list[RoleRef] | None = None
    """A new Safe's owners: addresses (test-account indices on a local chain only)."""
    threshold: int | None = None
    """Owners' signatures a Safe transaction needs: 1 <= threshold <= owners."""
    address: Address | None = None
    """An existing Safe 1.4.x (its owners and threshold, when given, are checked on chain)."""

    @model_validator(mode="after")
    def _shape(self) -> SafeSpec:
        if self.address is None and (self.owners is None or self.threshold is None):
            raise ValueError("give owners and threshold (a new Safe) or address (an existing one)")
        if self.owners is not None:
            if not self.owners:
                raise ValueError("owners: at least one owner")
            seen: set[str] = set()
            for o in self.owners:
                key = str(o).lower()
                if key in seen:
                    raise ValueError(f"owners: duplicate owner {o!r}")
                seen.add(key)
        if self.threshold is not None:
            n = len(self.owners) if self.owners is not None else None
            if self.threshold < 1 or (n is not None and self.threshold > n):
                bound = f"[1, {n}] (the number of owners)" if n is not None else ">= 1"
                raise ValueError(f"threshold must lie in {bound}, got {self.threshold}")
        return self


class AdminSafe(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    safe: SafeSpec
    """The admin Safe."""


def _admin_kind(v: Any) -> str:
    return "[safe]" if isinstance(v, dict | AdminSafe) else "[account]"


# roles.admin: an account (index or address), or {safe: {...}} (the tag is left out of messages)
AdminRef = Annotated[
    Annotated[RoleRef, Tag("[account]")] | Annotated[AdminSafe, Tag("[safe]")],
    Discriminator(_admin_kind),
]


class FeesSpec(BaseModel):
    """The vault's fees (issue 54), set by the deploy before the hand-over to the timelock: a
    management fee (bps of the fund's value a year) and a performance fee (bps of the share
    price's rise above the high-water mark), minted as shares to ``recipient``."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    management_bps: int = Field(0, ge=0, le=200)
    """Bps of the fund's value a year (the vault's cap: 200)."""
    performance_bps: int = Field(0, ge=0, le=2_000)
    """Bps of the rise of the price per share above the high-water mark (the cap: 2,000)."""
    recipient: int | str
    """Who the fee shares are minted to: an account index locally, or an address."""


class PlanExecutorSpec(BaseModel):
    """The PlanExecutor in front of the controller: the keeper key runs moves through it; a plan
    that moves more than ``approval_threshold`` whole base tokens needs ``required_approvals``
    signatures of the admin Safe's owners, verified on chain."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    approval_threshold: int = Field(gt=0, lt=2**96)
    """Whole base tokens: a plan moving more needs the Safe owners' signatures."""
    required_approvals: int = Field(2, ge=1, le=16)
    """Owners' signatures a plan above the threshold needs (at most the Safe's owners)."""
    # whole base tokens that may run without signatures per day, however they are split into
    # plans (the executor's per-window unapproved total); default: twice the threshold
    unapproved_per_day: int | None = Field(None, ge=0, lt=2**96)
    """Whole base tokens that may run without signatures per day, however split into plans;
    default: twice approval_threshold."""


class BaseSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    deploy_test_token: bool = False
    """Local chains only: deploy a test stablecoin as the base."""
    address: Address | None = None
    """The base stablecoin's address (exactly one of this and deploy_test_token)."""
    symbol: str = "USDT"
    """The test stablecoin's symbol."""
    decimals: int = Field(6, ge=0, le=36)
    """The test stablecoin's decimals (an address's are read from the token)."""

    @model_validator(mode="after")
    def _one_source(self) -> BaseSpec:
        if self.deploy_test_token == (self.address is not None):
            raise ValueError("base: give exactly one of deploy_test_token: true or address")
        return self


class RiskFile(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    max_slippage_bps: int = Field(500, ge=0, le=2000)
    """Most a move may get below its oracle value, in bps."""
    max_value_loss_bps: int = Field(300, ge=0, le=2000)
    """Most a move may lose of the fund's value, in bps."""
    max_top3_bps: int = Field(6000, ge=0, le=10_000)
    """Most the three largest assets may hold together, in bps of the fund."""
    nav_max_age: int = Field(3600, ge=0, le=86_400)
    """Seconds a price may be old before the fund's value counts as stale."""
    min_move_value: int = Field(10_000, ge=0)
    """Whole base tokens: smaller moves are not made."""
    # per-window budgets of keeper/rebalancer moves (whole base tokens): what a stolen keeper
    # key can lose (value at oracle prices) and move per window, however it repeats its calls
    loss_budget: int = Field(gt=0, lt=2**96)
    """Whole base tokens of value keeper/rebalancer moves may lose per window (what a stolen
    keeper key can lose)."""
    notional_budget: int = Field(gt=0, lt=2**96)
    """Whole base tokens keeper/rebalancer moves may move per window."""
    budget_window: int = Field(86_400, ge=3_600, le=30 * 86_400)
    """The budgets' window, in seconds."""
    # oracle bound of the controller's own swaps (rebalance, allocateToLayer, waterfall)
    internal_slippage_bps: int = Field(100, ge=0, le=2000)
    """Oracle bound of the controller's own swaps (rebalance, allocateToLayer, waterfall)."""
    # Chainlink L2 sequencer-uptime feed (L2 deployments), and the grace period after it is up
    sequencer_uptime_feed: Address | None = None
    """Chainlink L2 sequencer-uptime feed (L2 deployments)."""
    sequencer_grace_period: int = Field(3_600, ge=0, le=86_400)
    """Seconds after the sequencer is back up before prices count."""


class AssetSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    symbol: str
    """The asset's name in the fund (unique)."""
    kind: Literal["erc4626", "uniswap", "async"]
    """Its adapter: erc4626 (an ERC-4626 fund, instant), uniswap (a token traded on Uniswap
    V3 against the base), async (an RWA with notice periods and redemption windows)."""
    tier: Literal[1, 2]
    """Its tier, counted from 0: 1 is L2 (money-market), 2 is L3 (high-yield); L1 (0) is cash."""
    deploy_test: bool = False
    """Local chains only: deploy a test double (token, feed, pool) for it."""
    token: Address | None = None
    """The asset's token (the ERC-4626 fund, the traded token, the RWA issuer's token)."""
    feed: Address | None = None
    """Its Chainlink-style price feed (base tokens per token)."""
    heartbeat: int = Field(86_400, gt=0)
    """Seconds after which the feed's answer is stale (the feed's own heartbeat)."""
    rounds_bumped: bool = False
    """The feed starts a new round id with every new answer (Chainlink's OCR aggregators do;
    RedStone's PriceFeedWithoutRounds and Ojo keep theirs): vouched for at deploy
    (`setRoundsBumped`), entries and exits reuse the mark while the round id is unchanged instead
    of reading the whole answer (about 1.65x a plain ERC-4626 at 4 assets, against 2.1x). Set it
    only for a feed you have checked: a feed that keeps its round while its answer moves is then
    priced at the stale mark until the next mark. After the hand-over only the timelock vouches;
    the guardian withdraws at once."""
    price: Decimal = Decimal(1)
    """Local only: the test feed's first answer, base tokens per token."""
    max_concentration_bps: int = Field(2500, ge=0, le=10_000)
    """Most this asset may hold, in bps of the fund."""
    cap: int | None = Field(None, ge=0)
    """Whole base tokens the fund may hold of it; none: no cap."""
    pool_fee: int = 3000
    """uniswap: the pool's fee tier (100, 500, 3000, 10000)."""
    pool_liquidity: int = Field(10_000_000, gt=0)
    """Local only: the value seeded in the test pool, whole base tokens."""
    pool_range_ticks: int | None = Field(2000, gt=0)
    """Local only: the test pool's liquidity range, +- ticks around the price; none: full."""
    notice_period: int = 86_400
    """async, local only: the test issuer's notice period, seconds."""
    window_period: int = 7 * 86_400
    """async, local only: seconds between redemption windows."""
    window_length: int = 2 * 86_400
    """async, local only: how long a redemption window is open, seconds."""

    @field_validator("pool_fee")
    @classmethod
    def _fee(cls, v: int) -> int:
        if v not in (100, 500, 3000, 10_000):
            raise ValueError(
                f"pool_fee must be a Uniswap V3 fee tier (100, 500, 3000, 10000), got {v}"
            )
        return v

    @model_validator(mode="after")
    def _source(self) -> AssetSpec:
        if not self.deploy_test and (self.token is None or self.feed is None):
            raise ValueError(
                f"asset {self.symbol}: give token and feed addresses, or deploy_test: true"
            )
        if self.price <= 0:
            raise ValueError(f"asset {self.symbol}: price must be positive, got {self.price}")
        return self


class AutomationSpec(BaseModel):
    """The recurring rebalancer booked on the fund (seed 002 on the EVM)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    base_fee_per_effort: int = Field(1_000, ge=0)
    """The scheduler's fee, wei per unit of execution effort."""
    slot_seconds: int = Field(60, gt=0)
    """The scheduler's slot length, seconds."""
    funder_deposit_wei: int = Field(10**18, ge=0)
    """Native currency the deploy puts in the funder that pays the runs, wei."""
    interval: int = Field(86_400, gt=0)
    """Seconds between the fund's recurring rebalance runs."""
    execution_effort: int = Field(3_000_000, gt=0)
    """Gas a rebalance run may use."""
    supervisor_interval: int = Field(86_400, gt=0)
    """Seconds between the supervisor's runs."""
    force_rebalance: bool = False
    """The recurring run rebalances even inside the bands."""
    # Issue 11: the most the funder pays per rolling day (all spenders), and each paid
    # rebalancer's life-time allowance on it (finite; at most 1,000 native units).
    funder_spend_cap_wei: int = Field(10**18, gt=0, lt=2**96)
    """The most the funder pays per rolling day (all spenders), wei."""
    paid_allowance_wei: int = Field(10**18, gt=0, le=1_000 * 10**18)
    """Each paid rebalancer's life-time allowance on the funder, wei."""
    # Issue 45: the part of that cap kept for the fund's own rebalancer and the supervisor (paid
    # positions together stop at cap - reserve); unset: half the cap
    funder_reserve_wei: int | None = Field(None, ge=0)
    """The part of the daily cap kept for the fund's own rebalancer and the supervisor (paid
    positions together stop at cap - reserve), wei; unset: half the cap."""
    # Issue 13: the funder's runway in fund-rebalancer intervals (expected fee per interval set
    # from the scheduler's fees at deploy); LowRunway fires below this many intervals
    low_runway_intervals: int = Field(7, ge=1, le=10_000)
    """LowRunway fires when the funder holds fewer intervals of fees than this."""

    @model_validator(mode="after")
    def _reserve_within_cap(self) -> AutomationSpec:
        if (
            self.funder_reserve_wei is not None
            and self.funder_reserve_wei > self.funder_spend_cap_wei
        ):
            raise ValueError(
                f"automation.funder_reserve_wei must be at most funder_spend_cap_wei "
                f"({self.funder_spend_cap_wei}), got {self.funder_reserve_wei}"
            )
        return self

    @property
    def reserve_wei(self) -> int:
        """The funder's reserve for the fund's own automation (half the cap when unset)."""
        r = self.funder_reserve_wei
        return self.funder_spend_cap_wei // 2 if r is None else r


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    network: str
    """The ape network it deploys to (mainnet, sepolia, ...); local: test doubles allowed."""
    base: BaseSpec
    """The fund's base stablecoin."""
    tiers: list[tuple[int, int, int]]
    """[target, min, max] in bps for L1 cash, L2 money-market, L3 high-yield; targets sum
    to 10000."""
    risk: RiskFile
    """The controller's guards and the keeper's budgets."""
    roles: dict[Literal["admin", "keeper", "guardian"], AdminRef]
    """admin (an account, or {safe: ...}), keeper, guardian: addresses (indices locally)."""
    timelock_delay: int = Field(0, ge=0)
    """Seconds between scheduling and executing a risk-increasing change."""
    uniswap: dict[str, Any] = {}
    """{router: <address>} of Uniswap V3 (or {deploy: true} on a local chain)."""
    assets: list[AssetSpec]
    """The assets the fund may hold in L2 and L3."""
    automation: AutomationSpec | None = None
    """The recurring rebalancer booked on the fund, its funder and supervisor."""
    plan_executor: PlanExecutorSpec | None = None
    """The PlanExecutor in front of the controller (needs a Safe admin)."""
    fees: FeesSpec | None = None
    """The vault's fees (none by default)."""

    @property
    def admin_safe(self) -> SafeSpec | None:
        admin = self.roles.get("admin")
        return admin.safe if isinstance(admin, AdminSafe) else None

    @field_validator("tiers")
    @classmethod
    def _tiers(cls, v: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
        if len(v) != 3:
            raise ValueError(f"tiers: need exactly 3 (L1, L2, L3), got {len(v)}")
        for i, (target, lo, hi) in enumerate(v):
            if not (0 <= lo <= target <= hi <= 10_000):
                raise ValueError(
                    f"tiers[{i}] (L{i + 1}): need 0 <= min <= target <= max <= 10000, got {[target, lo, hi]}"
                )
        total = sum(t for t, _, _ in v)
        if total != 10_000:
            raise ValueError(f"tiers: targets must sum to 10000 bps, got {total}")
        return v

    @model_validator(mode="after")
    def _unique(self) -> Profile:
        seen: set[str] = set()
        for a in self.assets:
            if a.symbol in seen:
                raise ValueError(f"assets: duplicate symbol {a.symbol}")
            seen.add(a.symbol)
        for r in ("admin", "keeper", "guardian"):
            if r not in self.roles:
                raise ValueError(f"roles: missing {r}")
        for r, v in self.roles.items():
            if r != "admin" and isinstance(v, AdminSafe):
                raise ValueError(f"roles.{r}: an account (index or address), not a Safe")
        safe = self.admin_safe
        if self.plan_executor is not None:
            if safe is None:
                raise ValueError(
                    "plan_executor: needs roles.admin: {safe: ...} (the executor counts the "
                    "signatures of the Safe's owners)"
                )
            n = len(safe.owners) if safe.owners is not None else None
            if n is not None and self.plan_executor.required_approvals > n:
                raise ValueError(
                    f"plan_executor.required_approvals={self.plan_executor.required_approvals}: "
                    f"more than the Safe's {n} owners"
                )
        return self


def check_target(profile: Profile, network: str, chain_id: int) -> None:
    """Refuse, before the first transaction, a profile meant for another network.

    ``network`` is the connected ape network's name (``mainnet``, ``mainnet-fork``, ``local``,
    ``upstream``); a fork rehearses the network it forks. A ``local`` profile (test doubles,
    account indices as roles) deploys only to a chain with a local chain id."""
    target = network.removesuffix("-fork")
    local_chain = chain_id in LOCAL_CHAIN_IDS
    if profile.network == "local":
        if not local_chain:
            raise ProfileError(
                f"profile network 'local' deploys test doubles; connected to {network!r} "
                f"(chain id {chain_id}), which is not a local chain"
            )
        return
    if target != profile.network:
        raise ProfileError(
            f"profile network {profile.network!r} but connected to {network!r} (chain id "
            f"{chain_id}): connect to {profile.network!r} (or its fork) or fix network:"
        )
    if not local_chain:
        test_parts = [a.symbol for a in profile.assets if a.deploy_test]
        if profile.base.deploy_test_token:
            test_parts.insert(0, "base")
        if test_parts:
            raise ProfileError(
                f"deploy_test on a real network ({network!r}): {', '.join(test_parts)}"
            )
        index_roles: list[str] = [r for r, v in profile.roles.items() if isinstance(v, int)]
        safe = profile.admin_safe
        if safe is not None and any(isinstance(o, int) for o in safe.owners or []):
            index_roles.append("admin.safe.owners")
        if index_roles:
            raise ProfileError(
                f"roles given as test-account indices on a real network: {', '.join(index_roles)}"
            )


def _loc_name(loc: tuple[Any, ...]) -> str:
    """``roles.admin.safe.threshold``: the union's tags left out."""
    return ".".join(str(p) for p in loc if p not in ("[safe]", "[account]"))


def load_profile(path: str | Path) -> Profile:
    from pydantic import ValidationError

    try:
        data = yaml.safe_load(Path(path).read_text())
        return Profile.model_validate(data)
    except OSError as e:
        raise ProfileError(f"{path}: cannot read the profile: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ProfileError(f"{path}: not valid YAML: {e}") from None
    except ValidationError as e:
        text = describe_validation_error(e, name=_loc_name, root="<profile>")
        raise ProfileError(
            f"{path}: invalid deployment profile:\n  " + text.replace("; ", "\n  ")
        ) from None


def _account(accounts: Any, ref: int | str | AdminSafe) -> Any:
    if isinstance(ref, AdminSafe):  # validate() allows a Safe for the admin alone
        raise ProfileError("roles: a Safe where an account (index or address) is needed")
    if isinstance(ref, int):
        return getattr(accounts, "test_accounts", accounts)[ref]
    return ref


def deploy_profile(
    profile: Profile, deployer: Any, accounts: Any, log: Any = print, steps: Any = None
) -> FundDeployment:
    """Deploys the fund described by `profile`. Local-only pieces (test tokens, pools, feeds)
    are deployed where the profile says deploy_test; real networks give addresses.

    ``steps`` (ballast_dev.deployment.record.RecordedSteps) records every transaction as it goes
    and skips those an earlier, interrupted run recorded; None sends them unrecorded."""
    from ape import project

    steps = steps or DirectSteps()
    # everything that can be checked is checked before the first transaction
    existing_safe = _existing_safe(profile, accounts)
    dec = profile.base.decimals
    unit = 10**dec
    if profile.base.deploy_test_token:
        cash = steps.deploy(
            "deploy:cash",
            project.TestStablecoin,
            f"{profile.base.symbol} (test)",
            profile.base.symbol,
            dec,
            sender=deployer,
        )
    else:
        cash = project.TestStablecoin.at(profile.base.address)  # only the ERC20 part is used
        dec = int(cash.decimals())
        unit = 10**dec
    r = profile.risk
    risk = RiskSpec(
        r.max_slippage_bps,
        r.max_value_loss_bps,
        r.max_top3_bps,
        r.nav_max_age,
        r.min_move_value * unit,
    )
    limits = MoveLimitsSpec(
        r.loss_budget * unit, r.notional_budget * unit, r.budget_window, r.internal_slippage_bps
    )
    if max(limits.loss_budget, limits.notional_budget) >= 2**96:
        raise ProfileError("risk: loss_budget / notional_budget too large for uint96 base units")
    fund = deploy_core(
        project,
        deployer,
        cash,
        tiers=profile.tiers,
        risk=risk,
        limits=limits,
        sequencer_feed=r.sequencer_uptime_feed,
        sequencer_grace=r.sequencer_grace_period,
        steps=steps,
    )
    log(f"vault {fund.vault.address}  controller {fund.controller.address}")
    keeper = _account(accounts, profile.roles["keeper"])
    guardian = _account(accounts, profile.roles["guardian"])
    safe_spec = profile.admin_safe
    signers: list[Any] = []  # owners whose keys this deploy holds (a local chain's accounts)
    if safe_spec is None:
        admin = _account(accounts, profile.roles["admin"])
    else:
        from ballast_dev.deployment.safe import deploy_safe_steps, multisend_steps

        if existing_safe is not None:
            fund.safe = existing_safe
        else:
            owners = [_account(accounts, o) for o in safe_spec.owners or []]
            fund.safe = deploy_safe_steps(
                steps,
                deployer,
                owners,
                int(safe_spec.threshold or 0),
                salt_nonce=int(str(fund.vault.address), 16),
                log=log,
            )
        fund.safe_multisend = multisend_steps(steps, deployer, log=log)
        admin = str(fund.safe.address)
        threshold = int(fund.safe.getThreshold())
        owner_refs = safe_spec.owners or []
        signers = [_account(accounts, o) for o in owner_refs if isinstance(o, int)][:threshold]
        if len(signers) < threshold:
            signers = []
        log(f"admin Safe {admin} ({threshold} of {len(fund.safe.getOwners())})")
    grant_roles(fund, admin, keepers=[keeper], guardians=[guardian], sender=deployer, steps=steps)

    uni = None
    needs_dex = any(a.kind == "uniswap" for a in profile.assets)
    if needs_dex:
        if profile.uniswap.get("deploy"):
            from ballast_dev.deployment.uniswap import deploy_uniswap

            uni = deploy_uniswap(deployer, with_quoter=True, steps=steps)
            router = uni.router.address
            fund.adapters["uniswap_router"] = uni.router
            fund.adapters["uniswap_factory"] = uni.factory
            if uni.quoter is not None:
                fund.adapters["uniswap_quoter"] = uni.quoter
        else:
            router = profile.uniswap["router"]
        fund.adapters["uniswap"] = steps.deploy(
            "deploy:adapter.uniswap",
            project.UniswapV3Adapter,
            router,
            cash,
            deployer,
            sender=deployer,
        )
    if any(a.kind == "erc4626" for a in profile.assets):
        fund.adapters["erc4626"] = steps.deploy(
            "deploy:adapter.erc4626", project.ERC4626Adapter, sender=deployer
        )
    if any(a.kind == "async" for a in profile.assets):
        fund.adapters["async"] = steps.deploy(
            "deploy:adapter.async", project.AsyncRwaAdapter, sender=deployer
        )

    for a in profile.assets:
        token, feed = _asset_contracts(project, a, cash, deployer, uni, unit, steps)
        if a.kind == "uniswap":
            steps.send(
                f"adapter.uniswap.setPoolFee:{a.symbol}",
                fund.adapters["uniswap"].setPoolFee,
                token,
                a.pool_fee,
                sender=deployer,
            )
        add_asset(
            fund,
            deployer,
            symbol=a.symbol,
            token=token,
            tier=a.tier,
            adapter=fund.adapters[a.kind],
            feed=feed,
            heartbeat=a.heartbeat,
            cap=(a.cap * unit) if a.cap is not None else 2**128 - 1,
            max_concentration_bps=a.max_concentration_bps,
            steps=steps,
        )
        if a.rounds_bumped:  # the deployer still holds the timelock's role: before the hand-over
            steps.send(
                f"controller.setRoundsBumped:{a.symbol}",
                fund.controller.setRoundsBumped,
                token.address,
                True,
                sender=deployer,
            )
        log(
            f"asset {a.symbol:<9} L{a.tier + 1} {a.kind:<8} {token.address}"
            + (" (feed vouched: rounds bumped)" if a.rounds_bumped else "")
        )
    if profile.fees is not None:  # the deployer still holds the timelock's role
        fees = profile.fees
        recipient = _account(accounts, fees.recipient)
        steps.send("vault.setFeeRecipient", fund.vault.setFeeRecipient, recipient, sender=deployer)
        steps.send(
            "vault.setFees",
            fund.vault.setFees,
            fees.management_bps,
            fees.performance_bps,
            sender=deployer,
        )
        log(
            f"fees: management {fees.management_bps} bps/yr, performance "
            f"{fees.performance_bps} bps, to {getattr(recipient, 'address', recipient)}"
        )
    if profile.automation is not None:
        fund.automation = deploy_fund_automation(
            project, fund, profile.automation, deployer, admin, log, steps
        )
        if fund.safe is not None and signers:
            _accept_through_safe(fund, deployer, signers, steps)
    timelock = None
    if profile.plan_executor is not None:
        from ballast_dev.deployment.plan_executor import deploy_plan_executor

        # the executor's risk-increasing changes belong to the timelock, which must exist first
        timelock = deploy_timelock(
            project, deployer, admin, profile.timelock_delay, steps, cancellers=[guardian]
        )
        ex = deploy_plan_executor(
            project,
            fund,
            deployer,
            safe=fund.safe,
            timelock=timelock,
            keeper=keeper,
            approval_threshold=profile.plan_executor.approval_threshold * unit,
            required_approvals=profile.plan_executor.required_approvals,
            unapproved_per_day=(
                None
                if profile.plan_executor.unapproved_per_day is None
                else profile.plan_executor.unapproved_per_day * unit
            ),
            steps=steps,
        )
        log(f"plan executor {ex.address}: the keeper moves the fund through it only")
    timelock = hand_over(
        project,
        fund,
        deployer,
        admin,
        profile.timelock_delay,
        steps=steps,
        timelock=timelock,
        cancellers=[guardian],
    )
    if "uniswap" in fund.adapters:
        # the pool fee tier decides where the fund trades: risk-increasing, so the timelock's
        steps.send(
            "adapter.uniswap.transferOwnership:timelock",
            fund.adapters["uniswap"].transferOwnership,
            timelock.address,
            sender=deployer,
        )
    return fund


def _existing_safe(profile: Profile, accounts: Any) -> Any:
    """roles.admin: {safe: {address: ...}}: the Safe, checked on chain (code, version, and the
    owners and threshold the profile gives), or None for any other admin."""
    spec = profile.admin_safe
    if spec is None:
        return None
    from ballast_dev.deployment.canonical_safe import CONTRACTS, CanonicalSafeError, preflight
    from ballast_dev.deployment.safe import SafeDeploymentError, check_safe

    try:  # the canonical Safe contracts are there, or can be deployed here
        preflight(CONTRACTS if spec.address is None else ("MultiSendCallOnly",))
    except CanonicalSafeError as e:
        raise ProfileError(f"roles.admin.safe: {e}") from None
    if spec.address is None:
        return None

    owners = None
    if spec.owners is not None:
        owners = [str(getattr(_account(accounts, o), "address", o)) for o in spec.owners]
    try:
        return check_safe(spec.address, owners, spec.threshold)
    except SafeDeploymentError as e:
        raise ProfileError(str(e)) from None


def _accept_through_safe(fund: FundDeployment, deployer: Any, signers: list[Any], steps: Any):
    """Completes the Ownable2Step transfers to the admin Safe: one Safe transaction per
    contract (acceptOwnership), signed by ``signers`` (threshold owners), sent by the deployer."""
    from ballast_dev.deployment.safe import safe_step

    for key in ("scheduler", "tx_funder", "paid_registry", "supervisor"):
        c = fund.automation[key]
        name = c.contract_type.name
        safe_step(
            steps,
            f"{name}.acceptOwnership:safe",
            fund.safe,
            c,
            c.acceptOwnership.encode_input(),
            signers=signers,
            sender=deployer,
        )


def admin_address(profile: Profile, fund: FundDeployment, accounts: Any) -> str:
    """The deployed fund's admin: the Safe's address, or the admin account's."""
    if fund.safe is not None:
        return str(fund.safe.address)
    ref = profile.roles["admin"]
    return str(getattr(_account(accounts, ref), "address", ref))


def deploy_fund_automation(
    project: Any,
    fund: FundDeployment,
    spec: AutomationSpec,
    deployer: Any,
    admin: Any,
    log: Any,
    steps: Any = None,
) -> dict[str, Any]:
    """Scheduler, funder, paid-rebalancer registry and supervisor; a paid rebalancer booked on
    the AssetController (its only power: rebalance(bool), through REBALANCER_ROLE), registered
    with the supervisor. Ownership ends with `admin` (two-step: a bare address must accept)."""
    from ballast_dev.deployment.automation import deploy_automation, hand_over_automation

    steps = steps or DirectSteps()
    addrs = deploy_automation(
        project,
        deployer,
        deployer,
        base_fee=spec.base_fee_per_effort,
        slot_seconds=spec.slot_seconds,
        funder_deposit=spec.funder_deposit_wei,
        paid_interval=spec.interval,
        paid_effort=spec.execution_effort,
        supervisor_interval=spec.supervisor_interval,
        force_rebalance=spec.force_rebalance,
        funder_spend_cap_wei=spec.funder_spend_cap_wei,
        paid_allowance_wei=spec.paid_allowance_wei,
        low_runway_intervals=spec.low_runway_intervals,
        steps=steps,
    )
    scheduler = project.RebalanceScheduler.at(addrs["scheduler"])
    funder = project.TxFunder.at(addrs["tx_funder"])
    registry = project.PaidRebalancerRegistry.at(addrs["paid_registry"])
    supervisor = project.Supervisor.at(addrs["supervisor"])
    c = fund.controller
    admin_address = getattr(admin, "address", admin)
    # The fund's paid rebalancer belongs to the admin from the start (the deployer, still the
    # registry owner here, creates it *for* the admin): after hand-over the deployer can neither
    # remove it nor unregister it. The registry registers it with the supervisor itself.
    rid = int(
        steps.send(
            "paid_registry.createPaidRebalancerFor:fund",
            registry.createPaidRebalancerFor,
            c,
            admin_address,
            sender=deployer,
            result=True,
        )
    )
    rebalancer = registry.rebalancerOf(rid)
    steps.send(
        "controller.grant:REBALANCER_ROLE:fund_rebalancer",
        c.grantRole,
        c.REBALANCER_ROLE(),
        rebalancer,
        sender=deployer,
    )
    # Issue 45: only the fund's controller is believed when it says RebalanceHeld (retried at
    # interval / 24 without backing off), and the fund's rebalancer and the supervisor keep a
    # reserve of the funder's daily cap that paid positions cannot spend.
    steps.send(
        "paid_registry.setTrustedTarget:fund",
        registry.setTrustedTarget,
        rid,
        True,
        sender=deployer,
    )
    for name, spender in (("fund_rebalancer", rebalancer), ("supervisor", supervisor.address)):
        steps.send(
            f"tx_funder.setReservedSpender:{name}",
            funder.setReservedSpender,
            spender,
            True,
            sender=deployer,
        )
    steps.send("tx_funder.setReserve", funder.setReserve, spec.reserve_wei, sender=deployer)
    if admin_address != deployer.address:
        hand_over_automation(
            [scheduler, funder, registry, supervisor], deployer, admin, steps=steps
        )
    log(f"automation: scheduler {scheduler.address}, fund rebalancer #{rid} {rebalancer}")
    return {
        "scheduler": scheduler,
        "tx_funder": funder,
        "paid_registry": registry,
        "supervisor": supervisor,
        "fund_rebalancer": project.Rebalancer.at(rebalancer),
        "fund_rebalancer_id": rid,
    }


def _asset_contracts(
    project: Any, a: AssetSpec, cash: Any, deployer: Any, uni: Any, unit: int, steps: Any
) -> tuple[Any, Any]:
    if not a.deploy_test:
        return project.TestStablecoin.at(a.token), project.TestPriceFeed.at(a.feed)
    answer = int(a.price * 10**FEED_DECIMALS)
    k = f"asset:{a.symbol}"
    feed = steps.deploy(
        f"deploy:{k}.feed", project.TestPriceFeed, FEED_DECIMALS, answer, sender=deployer
    )
    if a.kind == "erc4626":
        token = steps.deploy(
            f"deploy:{k}.token",
            project.TestMoneyMarketFund,
            cash,
            f"{a.symbol} (test fund)",
            a.symbol,
            sender=deployer,
        )
    elif a.kind == "async":
        token = steps.deploy(
            f"deploy:{k}.token",
            project.TestAsyncRwaIssuer,
            f"{a.symbol} (test RWA)",
            a.symbol,
            cash,
            feed,
            a.notice_period,
            a.window_period,
            a.window_length,
            sender=deployer,
        )
    else:
        from ballast_dev.deployment.uniswap import create_pool

        token = steps.deploy(
            f"deploy:{k}.token",
            project.TestStablecoin,
            f"{a.symbol} (test RWA)",
            a.symbol,
            18,
            sender=deployer,
        )
        half_usd = a.pool_liquidity // 2
        steps.send(f"{k}.mint_cash", cash.mint, deployer, half_usd * unit, sender=deployer)
        tokens = int(Decimal(half_usd) / a.price * 10**18)
        steps.send(f"{k}.mint_token", token.mint, deployer, tokens, sender=deployer)
        price_raw = (int(a.price * unit), 10**18)  # base units per 1e18 token units
        ranges = [(-a.pool_range_ticks, a.pool_range_ticks)] if a.pool_range_ticks else None
        create_pool(
            uni,
            token,
            cash,
            a.pool_fee,
            price_raw,
            (tokens, half_usd * unit),
            deployer,
            ranges=ranges,
            steps=steps,
        )
    return token, feed


def write_addresses(
    fund: FundDeployment, network: str, extra: dict[str, Any] | None = None
) -> Path:
    DEPLOYMENTS_DIR.mkdir(parents=True, exist_ok=True)
    path = DEPLOYMENTS_DIR / f"{network}.json"
    data = fund.addresses()
    if extra:
        data.update(extra)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


SCHEMA_ID = "https://ballast.invalid/reference/deploy-profile.schema.json"


def profile_schema() -> dict[str, Any]:
    """The deployment profile's JSON Schema (draft 2020-12), generated from ``Profile``: what
    an editor can check a profile against (docs/reference/deploy-profile.schema.json). What a
    schema cannot say (cross-field rules: tier targets summing to 10000, a Safe's threshold
    within its owners, addresses' EIP-55 checksums, the network against the chain) is checked
    by ``load_profile``, which refuses a bad profile naming the field."""
    schema = Profile.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "Ballast deployment profile",
        "description": (
            "ape run deploy --profile <file>: the fund's configuration (scripts/profiles/*.yaml)."
        ),
    }
