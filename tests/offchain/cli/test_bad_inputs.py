"""The operator's bad inputs (issue 13), each through the real command: ``keeper ...`` (click's
runner on the installed entry point's group) and ``ape run deploy ...`` (a process forked
from ape's entry point: tests/support/ape_fork.py; the profiles its validation refuses through
the same command's body in the test process, see
``test_deploy__bad_input__refused_before_any_transaction``). Each
must exit non-zero, print no traceback, name the variable or field and its value, and show no
secret. The same table is the operator guide's "Bad inputs and their messages"
(docs/operator/bad-inputs.md)
(``python -m tests.offchain.cli.test_bad_inputs`` prints it; a test checks they agree).

Messages hold run-time values (a temporary path, a free port); the table writes them as
``<path>``, ``<port>`` and the test fills them in before it looks for the excerpt.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from tests.support.ape_fork import ape_run
from tests.support.ape_home import make_ape_home
from tests.support.fundbotlib import local_fund_env
from tests.support.profile_docs import USDT, mainnet_doc

ROOT = Path(__file__).resolve().parents[3]
PAGE = ROOT / "docs" / "operator" / "bad-inputs.md"  # the operator guide's page
DEAD = "0x000000000000000000000000000000000000dEaD"
SIGNER_KEY = "0x" + "5e" * 32  # a secret: never in any output
PASSPHRASE = "hunter2-correct-horse-99"
SECRETS = (SIGNER_KEY, SIGNER_KEY[2:], PASSPHRASE)
START, END = "<!-- bad-inputs:start -->", "<!-- bad-inputs:end -->"


@dataclass(frozen=True)
class Case:
    id: str
    bad_input: str  # the table's first column
    command: str  # as the operator types it
    exit: int
    named: str  # the variable or field and its value, as the message shows them
    excerpt: str  # the rest of the message the operator reads
    setup: Callable[[Any], None] = field(default=lambda _w: None, compare=False)
    env: dict[str, str] = field(default_factory=dict)
    deploy: bool = False  # `ape run deploy` (subprocess) rather than `keeper`
    # a deploy case run through the deploy command's own body in the test process rather than
    # `ape run deploy` (a profile the command refuses at its first statement: see
    # test_deploy__bad_input__refused_before_any_transaction)
    in_process: bool = field(default=False, compare=False)


class World:
    """What a case may change: the environment, the deployment record, files, the values the
    message will hold (``vals``: path, port)."""

    def __init__(self, env: dict[str, str], tmp: Path, record: Path | None) -> None:
        self.env, self.tmp, self.record = env, tmp, record
        self.vals: dict[str, str] = {}

    def edit_record(self, **changes: Any) -> None:
        assert self.record is not None
        data = json.loads(self.record.read_text())
        data.update(changes)
        self.record.write_text(json.dumps(data))

    def file(self, name: str, text: str) -> Path:
        p = self.tmp / name
        p.write_text(text)
        self.vals["path"] = str(p)
        return p


def _closed_port(w: World) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    w.vals["port"] = str(port)
    w.env["KEEPER_RPC_URL"] = f"http://127.0.0.1:{port}"


def _garbled_record(w: World) -> None:
    assert w.record is not None
    w.record.write_text("{not json")
    w.vals["path"] = str(w.record)


def _policy(text: str | None) -> Callable[[World], None]:
    def setup(w: World) -> None:
        p = w.file("policy.json", text) if text is not None else w.tmp / "no-policy.json"
        w.vals["path"] = str(p)
        w.env["KEEPER_POLICY_FILE"] = str(p)

    return setup


def _mainnet_profile(**change: Any) -> Callable[[World], None]:
    """A real-network profile with one field changed (dotted path -> value)."""

    def setup(w: World) -> None:
        doc = mainnet_doc()
        for dotted, value in change.items():
            *parents, last = dotted.split("__")
            node: Any = doc
            for p in parents:
                node = node[int(p)] if p.isdigit() else node[p]
            node[last] = value
        w.file("profile.yaml", yaml.safe_dump(doc))

    return setup


KEEPER_CASES = [
    Case(
        "closed-rpc-run",
        "a closed RPC port",
        "keeper run --bots fund --once",
        3,
        "KEEPER_RPC_URL=http://127.0.0.1:<port>",
        "node unreachable (ConnectionError)",
        _closed_port,
    ),
    Case(
        "closed-rpc-status",
        "a closed RPC port (read-only command)",
        "keeper status",
        3,
        "KEEPER_RPC_URL=http://127.0.0.1:<port>",
        "chain data unavailable",
        _closed_port,
    ),
    Case(
        "garbled-record",
        "a garbled deployment JSON",
        "keeper status",
        2,
        "KEEPER_DEPLOYMENT: deployment file <path>",
        "is not valid JSON",
        _garbled_record,
    ),
    Case(
        "record-other-chain",
        "a deployment record of another chain",
        "keeper status",
        2,
        "KEEPER_DEPLOYMENT",
        "was written on chain 1, the node is chain 31337",
        lambda w: w.edit_record(chain_id=1),
    ),
    Case(
        "controller-no-code",
        "a controller address with no code",
        "keeper status",
        2,
        "KEEPER_DEPLOYMENT",
        f"no contract code at controller {DEAD}",
        lambda w: w.edit_record(controller=DEAD),
    ),
    Case(
        "record-bad-address",
        "a deployment record with a bad address",
        "keeper status",
        2,
        "KEEPER_DEPLOYMENT",
        "not an address: '0x123'",
        lambda w: w.edit_record(controller="0x123"),
    ),
    Case(
        "policy-missing",
        "a missing policy file",
        "keeper status",
        2,
        "KEEPER_POLICY_FILE='<path>'",
        "cannot read the policy file (No such file or directory)",
        _policy(None),
    ),
    Case(
        "policy-not-json",
        "a policy file that is not JSON",
        "keeper status",
        2,
        "KEEPER_POLICY_FILE='<path>'",
        "the policy file is not JSON (Expecting value at line 1 column 1)",
        _policy("not json {"),
    ),
    Case(
        "signer-incomplete",
        "an incomplete signer config",
        "keeper status",
        2,
        "KEEPER_SIGNER_KIND='remote'",
        "signer_url and signer_address are required for a remote signer (set KEEPER_SIGNER_URL "
        "and KEEPER_SIGNER_ADDRESS)",
        env={"KEEPER_SIGNER_KIND": "remote"},
    ),
    Case(
        "signer-kms-no-key",
        "a KMS signer without its key",
        "keeper status",
        2,
        "KEEPER_SIGNER_KIND='aws-kms'",
        "signer_kms_key_id is required for a KMS signer (set KEEPER_SIGNER_KMS_KEY_ID to the key "
        "id, its ARN or alias/NAME)",
        env={"KEEPER_SIGNER_KIND": "aws-kms"},
    ),
    Case(
        "unknown-bot",
        "an unknown bot name",
        "keeper run --bots nope --once",
        1,
        "--bots: unknown bot(s) nope",
        "available: fund, executor, supervisor, crosschain",
    ),
    Case(
        "bad-number-chain-id",
        "a bad number in settings",
        "keeper status",
        2,
        "KEEPER_CHAIN_ID='abc'",
        "Input should be a valid integer",
        env={"KEEPER_CHAIN_ID": "abc"},
    ),
    Case(
        "bad-number-port",
        "a port out of range",
        "keeper status",
        2,
        "KEEPER_METRICS_PORT='70000'",
        "less than or equal to 65535",
        env={"KEEPER_METRICS_PORT": "70000"},
    ),
    Case(
        "bad-number-slippage",
        "a slippage above its cap (bps)",
        "keeper status",
        2,
        "REBALANCE_MAX_SLIPPAGE=900",
        "must be <= SLIPPAGE_BLOCK_BPS",
        env={"REBALANCE_MAX_SLIPPAGE": "900"},
    ),
    Case(
        "bad-number-negative",
        "a negative threshold",
        "keeper status",
        2,
        "DEVIATION_THRESHOLD='-5'",
        "greater than or equal to 0",
        env={"DEVIATION_THRESHOLD": "-5"},
    ),
    Case(
        "bad-number-executor",
        "a bad number in a bot's section",
        "keeper run --bots executor --once",
        2,
        "KEEPER_EXECUTOR_MAX_BATCH_RUNS='many'",
        "Input should be a valid integer",
        env={
            "KEEPER_EXECUTOR_SCHEDULER": "0x" + "11" * 20,
            "KEEPER_EXECUTOR_MAX_BATCH_RUNS": "many",
        },
    ),
    Case(
        "key-as-replica-id",
        "a private key as the replica id (64 hex digits, no 0x)",
        "keeper run --once",
        2,
        "KEEPER_REPLICA_ID=<redacted>",
        "this value is a private key (or a mnemonic), which no setting but the signer's may hold",
        env={"KEEPER_REPLICA_ID": SIGNER_KEY.removeprefix("0x")},
    ),
    Case(
        "admins-not-addresses",
        "two admins joined by a space, not a comma",
        "keeper status",
        2,
        "REBALANCE_ADMINS='0x70997970C51812dc3A010C7d01b50e0d17dc79C8 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC'",
        "admin 1 of 1 is not an address (0x and 40 hex digits)",
        env={
            "REBALANCE_ADMINS": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8 "
            "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
        },
    ),
    Case(
        "crosschain-holders",
        "a cross-chain holder that is not an address",
        "keeper crosschain status",
        2,
        "BALLAST_CROSSCHAIN_HOLDERS",
        "eth: must be 0x followed by 40 hex digits, got '0xbad'",
        env={"BALLAST_CROSSCHAIN_HOLDERS": '{"eth": "0xbad"}'},
    ),
    Case(
        "crosschain-holder-case",
        "a cross-chain holder not EIP-55 checksummed",
        "keeper crosschain status",
        2,
        "BALLAST_CROSSCHAIN_HOLDERS",
        "is not EIP-55 checksummed (expected 0x70997970C51812dc3A010C7d01b50e0d17dc79C8)",
        env={"BALLAST_CROSSCHAIN_HOLDERS": '{"eth": "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"}'},
    ),
]

DEPLOY_CASES = [
    Case(
        "profile-yaml-error",
        "a YAML error in a deploy profile",
        "ape run deploy --profile <path>",
        1,
        "<path>",
        "not valid YAML",
        lambda w: w.file("profile.yaml", "network: [unclosed\n"),
        deploy=True,
    ),
    Case(
        "unknown-account",
        "an unknown `--account`",
        "ape run deploy --account nobody",
        1,
        "--account 'nobody'",
        "(known: none)",
        lambda w: w.vals.update(path=str(ROOT / "scripts/profiles/local.yaml")),
        env={"ACCOUNT": "nobody"},
        deploy=True,
    ),
    Case(
        "profile-admin-0x123",
        'a profile with `roles.admin: "0x123"`',
        "ape run deploy --profile <path>",
        1,
        "roles.admin='0x123'",
        "not a 20-byte hex",
        _mainnet_profile(roles__admin="0x123"),
        deploy=True,
        in_process=True,
    ),
    Case(
        "profile-bad-checksum",
        "a bad checksum",
        "ape run deploy --profile <path>",
        1,
        f"base.address='{USDT.replace('d', 'D')}'",
        "bad EIP-55 checksum",
        _mainnet_profile(base__address=USDT.replace("d", "D")),
        deploy=True,
        in_process=True,
    ),
    Case(
        "profile-zero-address",
        "zero addresses (the example profile's placeholders)",
        "ape run deploy --profile scripts/profiles/example-mainnet.yaml",
        1,
        "assets.0.token='0x0000000000000000000000000000000000000000'",
        "the zero address (a placeholder to fill in?)",
        lambda w: w.vals.update(path=str(ROOT / "scripts/profiles/example-mainnet.yaml")),
        deploy=True,
        in_process=True,
    ),
]

CASES = KEEPER_CASES + DEPLOY_CASES


def _fill(text: str, vals: dict[str, str]) -> str:
    for k, v in vals.items():
        text = text.replace(f"<{k}>", v)
    return text


def _args(command: str, vals: dict[str, str]) -> list[str]:
    return _fill(command, vals).split()[1:]


def _check(case: Case, code: int, out: str, vals: dict[str, str]) -> None:
    assert code == case.exit, out
    assert code != 0
    assert "Traceback" not in out, out
    assert _fill(case.named, vals) in out, out
    assert _fill(case.excerpt, vals) in out, out
    for secret in SECRETS:
        assert secret not in out, f"secret in the output of {case.id}"


@pytest.fixture
def keeper_env(fresh: Any, chain: Any, deployment_file: Path, tmp_path: Path) -> dict[str, str]:
    """The deployed local fund's environment, with secrets set (which must never show)."""
    env = local_fund_env(chain, deployment_file, f"sqlite:///{tmp_path}/bad-inputs.db")
    return env | {
        "KEEPER_SIGNER_KEY": SIGNER_KEY,
        "KEEPER_SIGNER_PASSPHRASE": PASSPHRASE,
        "BALLAST_CEX_SECRET": PASSPHRASE,
    }


@pytest.mark.parametrize("case", KEEPER_CASES, ids=lambda c: c.id)
def test_keeper__bad_input__named_refusal_no_traceback_no_secret(
    case: Case, keeper_env: dict[str, str], deployment_file: Path, tmp_path: Path
) -> None:
    from keepers.cli import main

    w = World({**keeper_env, **case.env}, tmp_path, deployment_file)
    case.setup(w)
    result = CliRunner(mix_stderr=False).invoke(main, _args(case.command, w.vals), env=w.env)
    out = result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), out
    _check(case, result.exit_code, out, w.vals)


@pytest.fixture
def ape_data(tmp_path: Path) -> Path:
    """An ape data folder with no accounts, the rehearsal network ``upstream`` declared in its
    user-level config (tests/support/ape_home.py; installed packages shared, not copied)."""
    return make_ape_home(tmp_path / "ape-home")


def _deploy_in_process(profile: str, record: Path) -> tuple[int, str]:
    """scripts/deploy.py's command body (``cli``'s callback) in this process with ``--profile
    profile``: its first statement loads the profile and turns a ProfileError into the
    ClickException ``ape run`` prints (``Error: ...``, exit 1), before it reads the network or
    an account. Its exit code and the message as printed."""
    import click

    from scripts.deploy import cli

    try:
        cli.callback(
            network=None, profile_path=profile, alias=None, autosign=False, kms_key=None,
            dry_run=False, record_path=str(record), dump_state=None,
        )  # fmt: skip
    except click.ClickException as e:
        return e.exit_code, f"Error: {e.format_message()}"
    raise AssertionError(f"the deploy went on with {profile}")


@pytest.mark.parametrize("case", DEPLOY_CASES, ids=lambda c: c.id)
def test_deploy__bad_input__refused_before_any_transaction(
    case: Case, chain: Any, ape_data: Path, tmp_path: Path
) -> None:
    """Each bad input of the deploy refused before anything is sent or recorded. The YAML error
    and the unknown account run ``ape run deploy`` end to end, forked from the ape server of
    tests/support/ape_fork.py (ape's own handling of the command's refusal: exit 1, one line,
    no traceback, no secret of the environment; the console script's own one-line exit is
    tests/offchain/deploy/test_operator_commands.py's); the
    profiles the validation refuses (``in_process``) run the same command's body in this
    process: the same ``load_profile`` and ``except ProfileError`` as the YAML error's, whose
    message ``ape run`` prints as it printed the YAML error's (each ``ape run deploy`` cost 3 to
    4 s of CPU importing ape's plugins)."""
    w = World({}, tmp_path, None)
    case.setup(w)
    if case.in_process:
        nonce = chain.provider.web3.eth.get_transaction_count(chain.provider.web3.eth.accounts[0])
        code, out = _deploy_in_process(w.vals["path"], tmp_path / "record.json")
        _check(case, code, out, w.vals)
        assert not (tmp_path / "record.json").exists()
        assert (
            chain.provider.web3.eth.get_transaction_count(chain.provider.web3.eth.accounts[0])
            == nonce
        )
        return
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APE_ACCOUNTS_", "DEPLOY_"))}
    env |= {
        "APE_DATA_FOLDER": str(ape_data),
        "PATH": f"{ROOT / 'node_modules' / '.bin'}:{ROOT / '.venv' / 'bin'}:{env['PATH']}",
        "APE_ACCOUNTS_nobody_PASSPHRASE": PASSPHRASE,
        "KEEPER_SIGNER_KEY": SIGNER_KEY,
    }
    nonce = chain.provider.web3.eth.get_transaction_count(chain.provider.web3.eth.accounts[0])
    cmd = ["deploy", "--network", f"ethereum:upstream:{chain.provider.uri}"]
    cmd += ["--profile", w.vals["path"], "--record", str(tmp_path / "record.json")]
    if "ACCOUNT" in case.env:
        cmd += ["--account", case.env["ACCOUNT"]]
    proc = ape_run(cmd, env=env, cwd=ROOT, timeout=600)  # forked (tests/support/ape_fork.py)
    _check(case, proc.returncode, proc.stdout + proc.stderr, w.vals)
    assert not (tmp_path / "record.json").exists()  # nothing recorded, nothing sent
    assert chain.provider.web3.eth.get_transaction_count(chain.provider.web3.eth.accounts[0]) == (
        nonce
    )


def table() -> str:
    """The operator guide's table, from the cases."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    rows = [
        "| Bad input | Command | Exit | The message names | and says |",
        "|---|---|---|---|---|",
    ]
    for c in CASES:
        rows.append(
            f"| {cell(c.bad_input)} | `{c.command}` | {c.exit} | `{cell(c.named)}` | "
            f"{cell(c.excerpt)} |"
        )
    return "\n".join(rows)


def test_readme_table__lists_every_case_with_its_message() -> None:
    text = PAGE.read_text()
    assert START in text and END in text, f"{PAGE}: the bad-inputs table markers"
    body = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert body == table(), f"{PAGE} out of date: python -m tests.offchain.cli.test_bad_inputs"


def test_cases__cover_every_bad_input_issue_13_names() -> None:
    named = {c.bad_input for c in CASES}
    for needed in (
        "a closed RPC port",
        "a garbled deployment JSON",
        "a deployment record of another chain",
        "a missing policy file",
        "a policy file that is not JSON",
        "an incomplete signer config",
        "a YAML error in a deploy profile",
        "an unknown `--account`",
        'a profile with `roles.admin: "0x123"`',
        "a bad checksum",
        "a controller address with no code",
        "an unknown bot name",
        "a bad number in settings",
    ):
        assert needed in named
    assert any("zero addresses" in n for n in named)


if __name__ == "__main__":
    print(table())
