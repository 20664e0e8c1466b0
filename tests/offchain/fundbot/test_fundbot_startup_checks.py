"""Start-up checks of the deployment record (issue 13): the keeper reads every contract in it,
checks code exists and that the fund's contracts answer as expected, refuses a record written
on another chain, and names the variable; no traceback. A controller at 0x...dEaD used to pass.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from keepers.cli import main

DEAD = "0x000000000000000000000000000000000000dEaD"


def _edit(path: Path, **changes: Any) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def _status(env: dict[str, str]) -> Any:
    return CliRunner().invoke(main, ["status"], env=env)


def test_startup__record_as_deployed__status_runs(env):
    r = _status(env)
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"controller": DEAD}, f"no contract code at controller {DEAD}"),
        ({"assets": {"MMF-A": DEAD}}, "no contract code at assets.MMF-A"),
        ({"chain_id": 1}, "was written on chain 1, the node is chain"),
        ({"controller": "0x123"}, "not an address: '0x123'"),
    ],
)
def test_startup__bad_record__refused_naming_the_variable(env, deployment_file, change, expected):
    _edit(deployment_file, **change)
    r = _status(env)
    assert r.exit_code == 2, r.output
    assert "KEEPER_DEPLOYMENT" in r.output and expected in r.output, r.output
    assert "Traceback" not in r.output


def test_startup__controller_is_another_contract__refused(env, deployment_file):
    data = json.loads(deployment_file.read_text())
    _edit(deployment_file, controller=data["lens"])  # has code, is not the vault's controller
    r = _status(env)
    assert r.exit_code == 2 and "controller.vault() does not answer" in r.output, r.output


def test_startup__vault_of_another_fund__refused(env, deployment_file):
    data = json.loads(deployment_file.read_text())
    _edit(deployment_file, vault=data["cash"])  # an ERC-20, not the controller's vault
    r = _status(env)
    assert r.exit_code == 2 and "controller.vault() is" in r.output, r.output


def test_startup__garbled_record__named_error(env, deployment_file):
    deployment_file.write_text("{not json")
    r = _status(env)
    assert r.exit_code == 2 and "is not valid JSON" in r.output, r.output


def test_startup__band_variable_disagrees_with_chain__refused_naming_it(env):
    """L1_TARGET_RATIO .. L3_MAX_RATIO used to be validated and then read by nothing."""
    r = _status({**env, "L1_MIN_RATIO": "600"})
    assert r.exit_code == 2, r.output
    assert "L1_MIN_RATIO=600 but the controller's L1 min is 500 bps" in r.output
    assert _status({**env, "L1_MIN_RATIO": "500"}).exit_code == 0  # set and matching: fine


def test_startup__node_unreachable__exit_3_one_line_no_credentials(env):
    r = _status({**env, "KEEPER_RPC_URL": "http://user:secretpw@127.0.0.1:9"})
    assert r.exit_code == 3, r.output
    assert "KEEPER_RPC_URL=http://127.0.0.1:9: node unreachable" in r.output
    assert "secretpw" not in r.output and "Traceback" not in r.output


def test_startup__wrong_chain_id__typed_error_exit_2(env):
    r = _status({**env, "KEEPER_CHAIN_ID": "5"})
    assert r.exit_code == 2 and "KEEPER_CHAIN_ID=5 but the node is chain" in r.output


def test_keeper_run__node_unreachable__exit_3_no_traceback(env, accounts):
    run_env = {
        **env,
        "KEEPER_RPC_URL": "http://127.0.0.1:9",
        "KEEPER_SIGNER_KEY": accounts[2].private_key,
    }
    r = CliRunner().invoke(main, ["run", "--bots", "fund", "--once"], env=run_env)
    assert r.exit_code == 3, r.output
    assert "node unreachable" in r.output and "Traceback" not in r.output


def test_check_bands__the_controllers_tier_alone__answers_as_its_whole_abi(chain, deployment_file):
    """The band check calls ``tier`` through a handle over that ABI entry alone
    (``FundContracts.only``: web3 builds a handle over the ABI it is given, 8 ms of CPU for
    the controller's whole one on each new connection, and nothing else of the controller is
    called there). It binds no whole-ABI handle of the fund's (``FundContracts.controller``
    stays unbuilt), nor does a fund read; every band set to what the whole ABI's handle reads
    passes; each band set one bps off is refused naming it, as before; and a contract whose
    ``tier`` reverts (the vault has none) is refused naming the call."""
    from dataclasses import replace

    from keepers import abis
    from keepers.fund.deployment import check_bands
    from keepers.fund.planning.config import load_planning_config
    from keepers.fund.reader import FundReader
    from keepers.tx.contracts import (
        ChainMismatchError,
        DeploymentError,
        FundAddresses,
        FundContracts,
        contract_at,
    )
    from keepers.tx.node import connect_web3

    w3 = connect_web3(chain.provider.uri, 10)
    addresses = FundAddresses.load(deployment_file)
    whole = contract_at(w3, addresses.controller, abis.load("AssetController"))
    bands = {
        f"l{t + 1}_{name}_ratio": int(v)
        for t in range(3)
        for name, v in zip(("target", "min", "max"), whole.functions.tier(t).call(), strict=True)
    }
    contracts = FundContracts(w3, addresses)
    check_bands(contracts, load_planning_config(env={}, **bands))
    assert "controller" not in vars(contracts)  # the fund's handle was not built
    # nor does the fund's read (its holds and fee views go by address in its batch)
    reading = FundReader(contracts).read()
    assert (
        reading.fees is not None
        and reading.holds is not None
        and len(reading.holds) == len(reading.state.assets)
    )
    assert not {"controller", "vault"} & set(vars(contracts))
    # one band a bps off, the rest as read (a target with the next tier's a bps the other way:
    # the targets must sum to 10,000; the check names the lower tier first)
    for field, other in [(f, None) for f in bands if "target" not in f] + [
        ("l1_target_ratio", "l2_target_ratio"),
        ("l2_target_ratio", "l3_target_ratio"),
    ]:
        off = {field: bands[field] + 1} | ({other: bands[other] - 1} if other else {})
        with pytest.raises(ChainMismatchError, match=rf"{field.upper()}={bands[field] + 1} but"):
            check_bands(contracts, load_planning_config(env={}, **(bands | off)))
    other = FundContracts(w3, replace(addresses, controller=addresses.vault))
    with pytest.raises(DeploymentError, match=r"tier\(0\) reverts: not a Ballast fund controller"):
        check_bands(other, load_planning_config(env={}))
