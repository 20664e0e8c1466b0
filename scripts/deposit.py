"""A test deposit into the deployed fund: `ape run deposit --network ethereum:<net>:node
--account <investor> --amount 300000`.

The vault comes from the deployment record (scripts/deployments/<ecosystem>-<network>.json, or
--record); --amount is whole base tokens (decimals allowed down to the token's own). The
investor's balance is checked first; the allowance is raised to the amount when short; then
the vault's deposit(amount, investor). Prints the shares minted. ``--autosign`` unlocks the
account from APE_ACCOUNTS_<alias>_PASSPHRASE, as the deploy does.

Exit codes: 0 deposited; 1 refused (bad amount, balance too small, incomplete record, a
revert); 2 no record; 3 the node does not answer.
"""

from __future__ import annotations

from pathlib import Path

import click
from ape.cli import network_option

from ballast_dev.deployment.cli_support import DeployCommand, exit_with, load_account
from ballast_dev.deployment.deposit import DepositError, make_deposit
from ballast_dev.deployment.profile import DEPLOYMENTS_DIR
from ballast_dev.deployment.record import RecordError, load_record


@click.command(cls=DeployCommand)
@network_option()
@click.option("--amount", required=True, help="whole base tokens, e.g. 300000")
@click.option("--account", "alias", default=None, help="ape account alias of the investor")
@click.option(
    "--autosign", is_flag=True, help="unlock --account from APE_ACCOUNTS_<alias>_PASSPHRASE"
)
@click.option("--record", "record_path", default=None, help="record file (default per network)")
def cli(network, amount, alias, autosign, record_path):
    from ape import accounts, chain

    net = chain.provider.network
    path = (
        Path(record_path)
        if record_path
        else DEPLOYMENTS_DIR / f"{net.ecosystem.name}-{net.name}.json"
    )
    if not path.exists():
        exit_with(f"--record {path}: no deployment record there", 2)
    try:
        record = load_record(path)
    except RecordError as e:
        exit_with(str(e), 2)
    if record.get("chain_id") not in (None, chain.chain_id):
        exit_with(
            f"{path} was written on chain {record.get('chain_id')}, connected to chain "
            f"{chain.chain_id}: connect to the deploy's network",
            2,
        )
    investor = load_account(accounts, alias, autosign)
    try:
        make_deposit(record, investor, amount, echo=click.echo)
    except DepositError as e:
        exit_with(str(e), 1)
    except Exception as e:  # a revert or the node gone mid-way: one line, never a traceback
        exit_with(f"the deposit failed ({type(e).__name__}: {e})", 1)
