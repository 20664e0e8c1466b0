"""Check a deploy's hand-over: `ape run handover --network ethereum:<net>:node`.

Reads the deployment record (scripts/deployments/<ecosystem>-<network>.json, or --record), then
the chain: the calls left to the admin (the checklist), what the deployer still holds, and when
the admin is the record's Safe, the Safe{Wallet} Transaction Builder batch of the calls left,
at the Safe's nonce now, with its SafeTx hash: the batch file beside the record is kept when it
still holds exactly that, rewritten when the Safe's nonce moved (the owners executed something
else first) or the calls changed. Sends nothing; needs no account.

Exit codes: 0 hand-over complete; 1 calls left or powers held (the checklist says which);
2 no record to check (missing, incomplete, or of another chain); 3 the node does not answer.
"""

from __future__ import annotations

from pathlib import Path

import click
from ape.cli import network_option

from ballast_dev.deployment.cli_support import DeployCommand
from ballast_dev.deployment.handover import EXIT_INCOMPLETE, check_record
from ballast_dev.deployment.profile import DEPLOYMENTS_DIR


@click.command(cls=DeployCommand)
@network_option()
@click.option("--record", "record_path", default=None, help="record file (default per network)")
def cli(network, record_path):
    from ape import chain

    net = chain.provider.network
    path = (
        Path(record_path)
        if record_path
        else DEPLOYMENTS_DIR / f"{net.ecosystem.name}-{net.name}.json"
    )
    if not check_record(path, echo=click.echo):
        raise SystemExit(EXIT_INCOMPLETE)
