"""The deploy's operator-facing edges (issue 48): confirmations from the operator's own ape
config, honoured and named; a node that does not answer is one line and exit 3, like the
keeper's, for `ape run deploy` and `ape run handover`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ballast_dev.deployment.ape_config import PROJECT_CONFIG, source_of
from ballast_dev.local.anvil_local import free_port

ROOT = Path(__file__).resolve().parents[3]
USER_CONFIG = """
ethereum:
  sepolia:
    required_confirmations: 2
"""


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEPLOY_", "APE_ACCOUNTS_"))}
    env["APE_DATA_FOLDER"] = str(home)
    env["PATH"] = f"{ROOT / 'node_modules' / '.bin'}:{ROOT / '.venv' / 'bin'}:{env['PATH']}"
    return env


def test_confirmations__source__the_users_file_unless_the_project_sets_it(tmp_path):
    user = tmp_path / "ape-config.yaml"
    user.write_text(USER_CONFIG)
    key = "required_confirmations"
    assert source_of("ethereum", "sepolia", key, user) == (
        f"ethereum.sepolia.required_confirmations in {user}"
    )
    assert source_of("ethereum", "mainnet", key, user).startswith("ape's default")
    # the project's file sets confirmations for the local chain only (anvil mines at once)
    assert source_of("ethereum", "local", key, user).endswith(
        f"the project's {PROJECT_CONFIG.name}"
    )
    for net in ("mainnet", "sepolia", "hoodi"):
        assert not source_of("ethereum", net, key, tmp_path / "none.yaml").endswith(
            PROJECT_CONFIG.name
        )


def test_confirmations__user_level_sepolia_2__ape_resolves_2_not_a_project_value(tmp_path):
    """What the deploy waits for is what ape resolves for the connected network: with the
    operator's user-level `ethereum.sepolia.required_confirmations: 2` that is 2 (it was the
    project's 1), and the deploy names the file it came from."""
    (tmp_path / "ape-config.yaml").write_text(USER_CONFIG)
    code = (
        "from ape import networks\n"
        "from ballast_dev.deployment.ape_config import required_confirmations\n"
        "for name in ('sepolia', 'mainnet'):\n"
        "    print(name, *required_confirmations(networks.ethereum.get_network(name)), sep='|')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    rows = dict(line.split("|", 1) for line in out.stdout.splitlines() if "|" in line)
    user = tmp_path / "ape-config.yaml"
    assert rows["sepolia"] == f"2|ethereum.sepolia.required_confirmations in {user}"
    assert rows["mainnet"].startswith("2|ape's default")


@pytest.mark.parametrize(
    "cmd",
    [
        ["deploy", "--profile", "scripts/profiles/example-mainnet.yaml"],
        # the same command class (ballast_dev/deployment/cli_support.py): in the slow run only
        pytest.param(["handover"], marks=pytest.mark.slow),
    ],
    ids=["deploy", "handover"],
)
def test_unreachable_node__one_line_exit_3(tmp_path, cmd):
    """A closed port: the command prints one line naming the network and the node (never the
    URL's path, where providers put their keys) and exits 3, as the keeper does."""
    url = f"http://127.0.0.1:{free_port()}/v2/SECRET-API-KEY"
    out = subprocess.run(
        ["ape", "run", *cmd, "--network", f"ethereum:sepolia:{url}"],
        cwd=ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    text = (out.stdout + out.stderr).strip()
    assert out.returncode == 3, text[-3000:]
    assert len(text.splitlines()) == 1, text[-3000:]
    assert text.startswith("Error: --network ethereum:sepolia: node unreachable (")
    assert "SECRET-API-KEY" not in text and "Traceback" not in text


@pytest.mark.slow  # an ape process against a standing anvil, ~15 s on a loaded machine
def test_node_of_another_chain__deploy__one_line_exit_2(tmp_path):
    """A node that answers as another chain than the network's (an anvil, chain id 31337, given
    as mainnet): not "unreachable" but the wrong chain, a configuration error (exit 2)."""
    from tests.support.anvil_node import start_anvil

    proc, url, _w3 = start_anvil()
    try:
        out = subprocess.run(
            ["ape", "run", "deploy", "--profile", "scripts/profiles/example-mainnet.yaml",
             "--network", f"ethereum:mainnet:{url}"],
            cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=120,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    lines = [x for x in (out.stdout + out.stderr).splitlines() if not x.startswith("INFO:")]
    assert out.returncode == 2, "\n".join(lines)[-3000:]
    assert len(lines) == 1 and lines[0].startswith(
        "Error: --network ethereum:mainnet: the node is another chain (Provider connected to "
        "chain ID '31337', which does not match network chain ID '1'"
    ), lines
