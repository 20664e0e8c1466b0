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
from fundbotlib import ROOT

from keepers.cli import main

DEAD = "0x000000000000000000000000000000000000dEaD"


@pytest.fixture
def env(fresh: Any, chain: Any, deployment_file: Path, tmp_path: Path) -> dict[str, str]:
    return {
        "KEEPER_RPC_URL": chain.provider.uri,
        "KEEPER_DB_URL": f"sqlite:///{tmp_path}/cli.db",
        "KEEPER_DEPLOYMENT": str(deployment_file),
        "KEEPER_ARTIFACTS_PATH": str(ROOT / ".build/__local__.json"),
        "KEEPER_CHAIN_ID": str(chain.chain_id),
        "KEEPER_LOG_LEVEL": "WARNING",
        "KEEPER_NATIVE_PRICE": "0",
    }


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
