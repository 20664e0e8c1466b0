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
