"""Deploy the fund from a profile: `ape run deploy --profile scripts/profiles/local.yaml`.

On a real network pass `--network ethereum:mainnet:node --account <alias>`; the profile gives
every address. Addresses are written to scripts/deployments/<ecosystem>-<network>.json.
"""

from pathlib import Path

import click
from ape.cli import ConnectedProviderCommand, network_option

from ballast_dev.deployment.profile import (
    ProfileError,
    check_target,
    deploy_profile,
    load_profile,
    write_addresses,
)


@click.command(cls=ConnectedProviderCommand)
@network_option()
@click.option("--profile", "profile_path", default="scripts/profiles/local.yaml", show_default=True)
@click.option(
    "--account", "alias", default=None, help="ape account alias (default: test account 0)"
)
@click.option("--dump-state", default=None, help="anvil only: write the chain state to this file")
def cli(network, profile_path, alias, dump_state):
    from ape import accounts, chain

    try:
        profile = load_profile(profile_path)
        net = chain.provider.network
        check_target(profile, net.name, chain.chain_id)
    except ProfileError as e:
        raise click.ClickException(str(e)) from None

    try:
        deployer = accounts.load(alias) if alias else accounts.test_accounts[0]
    except Exception as e:  # ape raises its own AccountsError for an unknown alias
        known = ", ".join(a.alias for a in accounts) or "none"
        raise click.ClickException(f"--account {alias!r}: {e} (known: {known})") from None
    fund = deploy_profile(profile, deployer, accounts, log=click.echo)
    record = {
        "profile": profile_path,
        "chain_id": chain.chain_id,
        "deployer": deployer.address,
        "block": chain.blocks.head.number,
    }
    path = write_addresses(fund, f"{net.ecosystem.name}-{net.name}", record)
    click.echo(f"addresses written to {path}")
    if dump_state:
        # anvil only: the chain's whole state, to start an upstream node with --load-state
        state = chain.provider.make_request("anvil_dumpState", [])
        Path(dump_state).write_text(state)
        click.echo(f"anvil state written to {dump_state}")
