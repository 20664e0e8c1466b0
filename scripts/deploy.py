"""Deploy the fund from a profile: `ape run deploy --profile scripts/profiles/local.yaml`.

On a real network pass `--network ethereum:mainnet:node --account <alias>`; the profile gives
every address. The deployment record, scripts/deployments/<ecosystem>-<network>.json, is written
after every transaction: run the same command again after an interruption and it resumes.

  --dry-run   the whole deploy on a fork of the connected network (ape-foundry): prints each
              transaction (what, to, gas) and the total; nothing reaches the network
  --autosign  sign without prompting: the account is unlocked with the passphrase in
              APE_ACCOUNTS_<alias>_PASSPHRASE (never prompted for, never printed)
  --aws-kms   sign with an AWS KMS key (spec ECC_SECG_P256K1) instead of an ape account
              (ballast_dev/deployment/kms_account.py; docs/operator/aws-kms.md)

At the end it prints the hand-over checklist (what the admin must call), or "hand-over
complete".
"""

from __future__ import annotations

import os
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from ape.cli import network_option
from ape.exceptions import NetworkError

from ballast_dev.deployment.ape_config import required_confirmations
from ballast_dev.deployment.cli_support import DeployCommand, load_account
from ballast_dev.deployment.handover import (
    batch_line,
    batch_path,
    check_record,
    handover_status,
    render,
)
from ballast_dev.deployment.profile import (
    DEPLOYMENTS_DIR,
    ProfileError,
    admin_address,
    check_target,
    deploy_profile,
    load_profile,
)
from ballast_dev.deployment.record import (
    DeployInterrupted,
    RecordedSteps,
    RecordError,
    load_record,
    profile_hash,
)
from ballast_dev.local.anvil_local import keep_ape_anvil_off_disk, retry_ape_anvil_on_a_taken_port

# a local chain ape starts here (a local deploy's, the dry run's fork) keeps no old state on
# disk (ballast_dev/local/anvil_local.py); a real network's node is not ape's to start
keep_ape_anvil_off_disk()
retry_ape_anvil_on_a_taken_port()


FORK_START_TIMEOUT_S = 90


def _patient_fork_start() -> None:
    """ape waits a fixed 20 s for a fork's anvil to answer (SubprocessProvider.start's default,
    not configurable in ape 0.8); forking a remote node, or any node on a loaded machine, can
    take longer. The fork provider's start waits FORK_START_TIMEOUT_S instead. (The
    RPCTimeoutError once seen in CI was an anvil that had exited on a taken port, which no
    wait fixes: ``retry_ape_anvil_on_a_taken_port`` moves it to another.)"""
    from ape_foundry.provider import FoundryForkProvider

    if getattr(FoundryForkProvider.start, "_ballast_patient", False):
        return
    base = FoundryForkProvider.start

    def start(self, timeout: int = FORK_START_TIMEOUT_S) -> None:  # type: ignore[no-untyped-def]
        base(self, timeout=max(timeout, FORK_START_TIMEOUT_S))

    start._ballast_patient = True  # type: ignore[attr-defined]
    FoundryForkProvider.start = start  # type: ignore[method-assign]


def _safe_batch(h: Any, fund: Any, out: Path | None) -> None:
    """The calls left to the admin Safe as a Safe{Wallet} Transaction Builder batch file
    (written to ``out``; none on a dry run), with the Safe nonce and SafeTx hash its owners
    will see."""
    from ape import chain

    if h.safe is None or not h.todo or fund.safe is None:
        return
    nonce = int(fund.safe.call_view_method("nonce"))
    line = batch_line(h, chain.chain_id, nonce, out, created_at_ms=_ms())
    if line is not None:
        click.echo(line)


def _complete_record(path: Path, chain_id: int) -> bool:
    if not path.exists():
        return False
    try:
        data = load_record(path)
    except RecordError:
        return False
    return bool(data.get("complete")) and data.get("chain_id") == chain_id


def _ms() -> int:
    return int(time.time() * 1000)


def _plan(steps: RecordedSteps, gas_price: int) -> str:
    rows = steps.sent
    if not rows:
        return "dry run: nothing left to send (the record is complete up to the hand-over)"
    w = max(len(s["step"]) for s in rows)
    lines = [f"dry run: {len(rows)} transactions", f"  {'step':<{w}}  {'to':<42}  {'gas':>9}"]
    for s in rows:
        to = s.get("to") or f"(new {s['what'].removeprefix('deploy ')})"
        lines.append(f"  {s['step']:<{w}}  {to:<42}  {s['gas']:>9,}")
    total = sum(s["gas"] for s in rows)
    lines.append(f"  total gas {total:,}")
    if gas_price:
        cost = Decimal(total * gas_price) / Decimal(10**18)
        lines.append(
            f"  at the node's gas price now ({Decimal(gas_price) / Decimal(10**9):.3f} gwei): "
            f"about {cost:.6f} native units"
        )
    return "\n".join(lines)


def _stop_after() -> int | None:
    """Fault injection for the resumption tests: armed only with DEPLOY_FAULT_INJECTION=1."""
    raw = os.environ.get("DEPLOY_STOP_AFTER")
    if raw and os.environ.get("DEPLOY_FAULT_INJECTION") == "1":
        return int(raw)
    return None


@click.command(cls=DeployCommand)
@network_option()
@click.option("--profile", "profile_path", default="scripts/profiles/local.yaml", show_default=True)
@click.option(
    "--account", "alias", default=None, help="ape account alias (default: test account 0)"
)
@click.option(
    "--autosign", is_flag=True, help="unlock --account from APE_ACCOUNTS_<alias>_PASSPHRASE"
)
@click.option(
    "--aws-kms",
    "kms_key",
    default=None,
    help="sign with this AWS KMS key instead of an ape account (key id, ARN or alias/NAME, spec "
    "ECC_SECG_P256K1; region from AWS_REGION, endpoint from AWS_ENDPOINT_URL_KMS)",
)
@click.option("--dry-run", is_flag=True, help="simulate on a fork; print the plan and gas")
@click.option("--record", "record_path", default=None, help="record file (default per network)")
@click.option("--dump-state", default=None, help="anvil only: write the chain state to this file")
def cli(network, profile_path, alias, autosign, kms_key, dry_run, record_path, dump_state):
    from ape import accounts, chain, networks, project

    try:
        profile = load_profile(profile_path)
        net = chain.provider.network
        check_target(profile, net.name, chain.chain_id)
    except ProfileError as e:
        raise click.ClickException(str(e)) from None

    if kms_key is not None:
        if alias or autosign:
            raise click.ClickException("--aws-kms signs instead of --account: give one of them")
        from ballast_dev.deployment.kms_account import kms_account
        from keepers.core.errors import ConfigError

        try:
            deployer = kms_account(kms_key)
        except ConfigError as e:  # not found in the region, disabled, wrong spec, no credentials
            raise click.ClickException(str(e)) from None
        click.echo(f"deployer {deployer.address}: AWS KMS key {deployer.signer.key_arn}")
    else:
        deployer = load_account(accounts, alias, autosign)
    name = f"{net.ecosystem.name}-{net.name}"  # a fork's record apart from its network's
    path = Path(record_path) if record_path else DEPLOYMENTS_DIR / f"{name}.json"
    header = {
        "network": f"{net.ecosystem.name}:{net.name}",
        "chain_id": chain.chain_id,
        "deployer": str(deployer.address),
        "profile": profile_path,
        "profile_hash": profile_hash(profile),
    }
    confirmations, source = required_confirmations(net)

    if dry_run:
        if _complete_record(path, chain.chain_id):
            click.echo(
                f"dry run: the deploy recorded in {path} is complete, nothing is left to send; "
                "its hand-over now (`ape run handover` checks it and writes the Safe batch):"
            )
            check_record(path, write=False, echo=click.echo)
            return
        gas_price = int(chain.provider.gas_price)
        _patient_fork_start()
        try:
            with networks.fork(provider_name="foundry") as fork:
                signer = (
                    accounts.test_accounts.impersonate_account(deployer.address)
                    if alias or kms_key
                    else deployer
                )
                plan = RecordedSteps.open(
                    None, header, provider=fork, existing=path, log=click.echo
                )
                fund = deploy_profile(profile, signer, accounts, log=click.echo, steps=plan)
                admin = admin_address(profile, fund, accounts)
                h = handover_status(project, fund.addresses(), str(deployer.address), admin)
                click.echo(_plan(plan, gas_price))
                click.echo(render(h))
                _safe_batch(h, fund, None)  # what the batch would be; nothing written
        except (RecordError, ProfileError) as e:
            raise click.ClickException(str(e)) from None
        except NetworkError as e:
            raise click.ClickException(
                f"--dry-run forks the connected network and cannot fork {net.name!r} ({e}): "
                f"declare foundry.fork.{net.ecosystem.name}.{net.name}.upstream_provider: node "
                "in your ape config (docs/operator/deploy.md)"
            ) from None
        click.echo(f"dry run on a fork of {net.name}: nothing was sent to it")
        return

    click.echo(f"confirmations: {confirmations} ({source})")
    started = time.monotonic()
    if net.name == "local" and path.exists():
        # ape starts a fresh chain for `local` on every run: a record of an earlier run names
        # contracts of a chain that is gone, there is nothing to resume
        click.echo(f"{path}: from an earlier local chain (gone), replaced")
        path.unlink()
    steps: RecordedSteps | None = None
    try:
        steps = RecordedSteps.open(
            path, header, provider=chain.provider, log=click.echo, stop_after=_stop_after()
        )
        fund = deploy_profile(profile, deployer, accounts, log=click.echo, steps=steps)
        steps.wait_confirmations(chain.provider, confirmations)
        admin = admin_address(profile, fund, accounts)
        h = handover_status(project, fund.addresses(), str(deployer.address), admin)
        steps.finish(
            fund.addresses(),
            {"admin": admin, "todo": h.todo, "deployer_holds": h.held},
            chain.blocks.head.number,
        )
    except ProfileError as e:  # found on chain before the first transaction (an existing Safe)
        raise click.ClickException(str(e)) from None
    except (RecordError, DeployInterrupted) as e:
        raise click.ClickException(f"{e} (record: {path})") from None
    except Exception as e:  # a revert, the node gone, gas run out: say where, and how to go on
        done = len(steps.data["steps"]) if steps else 0
        pending = steps.data.get("pending") if steps else None
        at = f" at step {pending['step']}" if pending else ""
        raise click.ClickException(
            f"the deploy stopped{at} ({type(e).__name__}: {e}); {path} records the {done} "
            "steps done: fix the cause and run the same command again to resume"
        ) from None
    click.echo(
        f"deployed in {time.monotonic() - started:.1f} s: {len(steps.sent)} transactions sent, "
        f"{len(steps.data['steps']) - len(steps.sent)} resumed from the record, "
        f"{sum(s['gas'] for s in steps.sent):,} gas; {confirmations} confirmation(s) awaited"
    )
    click.echo(f"record written to {path}")
    click.echo(render(h))
    _safe_batch(h, fund, batch_path(path))
    if dump_state:
        # anvil only: the chain's whole state, to start an upstream node with --load-state
        state = chain.provider.make_request("anvil_dumpState", [])
        Path(dump_state).write_text(state)
        click.echo(f"anvil state written to {dump_state}")
