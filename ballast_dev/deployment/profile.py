"""Deployment profiles: the code that deploys one (the file's schema and loader are in
ballast_dev.deployment.profile_spec, whose names this module still exports).

`load_profile(path)` refuses a bad file with an error naming the field and value;
`deploy_profile(profile, deployer, accounts)` deploys, wires, hands risk-increasing powers to the
timelock and returns a FundDeployment; `write_addresses` records it per network.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

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
from ballast_dev.deployment.profile_spec import (  # noqa: F401  (the profile's names, as before)
    SCHEMA_ID,
    ZERO_ADDRESS,
    Address,
    AdminSafe,
    AssetSpec,
    AutomationSpec,
    BaseSpec,
    FeesSpec,
    PlanExecutorSpec,
    Profile,
    ProfileError,
    RiskFile,
    RoleRef,
    SafeSpec,
    check_target,
    load_profile,
    profile_schema,
)
from ballast_dev.deployment.record import DirectSteps

DEPLOYMENTS_DIR = Path(__file__).resolve().parents[2] / "scripts" / "deployments"


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
