"""`ape run deploy --aws-kms KEY` (issue 63): the deploy signs every transaction with a KMS key
instead of an ape account, on a standing node as an operator runs it, the KMS being the
stand-in (LocalStack's KMS on loopback). The deployer recorded and every deploy transaction's
sender is the KMS key's address; a key of the wrong spec is refused where the deploy loads its
account (before anything is sent), naming the option and the spec, no credential in it (checked
on ``kms_account`` in the test process: a second ``ape run deploy`` cost about 3 s of CPU)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ballast_dev.local.kms_local import KmsStandIn, start_kms
from keepers.tx.kms import address_from_spki
from tests.support.ape_fork import ape_run
from tests.support.ape_home import make_ape_home

ROOT = Path(__file__).resolve().parents[3]
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture(scope="module")
def kms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KmsStandIn]:
    stand_in = start_kms(tmp_path_factory.mktemp("kms"))
    yield stand_in
    stand_in.stop()


def test_deploy_cli__aws_kms_deployer__every_transaction_signed_in_kms(node, kms, tmp_path):
    url, w3 = node
    key = kms.create_key()
    deployer = address_from_spki(kms.client().get_public_key(KeyId=key)["PublicKey"])
    w3.provider.make_request("anvil_setBalance", [deployer, hex(100 * 10**18)])
    record = tmp_path / "record.json"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DEPLOY_", "APE_ACCOUNTS_", "AWS_", "KEEPER_"))
    }
    env.update(
        APE_DATA_FOLDER=str(make_ape_home(tmp_path / "ape-home")),
        PATH=f"{ROOT / 'node_modules' / '.bin'}:{ROOT / '.venv' / 'bin'}:{env['PATH']}",
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY=SECRET,
        AWS_REGION="us-east-1",
        AWS_ENDPOINT_URL_KMS=kms.endpoint,
    )
    cmd = [
        "deploy", "--profile", "scripts/profiles/local.yaml",
        "--network", f"ethereum:upstream:{url}", "--record", str(record),
    ]  # fmt: skip

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        # forked from the ape server (tests/support/ape_fork.py): the deploy's own signing
        return ape_run([*cmd, *extra], env=env, cwd=ROOT, timeout=900)

    # a key of the wrong spec: test_kms_account__wrong_spec... below (the refusal is raised
    # where the deploy loads its account, before anything is sent, as a wrong passphrase's is:
    # tests/offchain/fund/test_deploy_unattended.py runs that one through the command)
    done = run("--aws-kms", key)
    out = done.stdout + done.stderr
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"deployer {deployer}: AWS KMS key arn:aws:kms:us-east-1:" in done.stdout
    assert SECRET not in out
    data = json.loads(record.read_text())
    assert data["deployer"] == deployer
    sent = w3.eth.get_transaction_count(deployer)
    assert sent >= 10  # the contracts and their settings, each signed in KMS
    for step in data["steps"][:5]:
        tx = w3.eth.get_transaction(step["tx"])
        assert tx["from"] == deployer


def test_kms_account__wrong_spec__refused_naming_the_option_and_the_spec(kms, monkeypatch):
    """The deploy's ``--aws-kms KEY`` (ballast_dev.deployment.kms_account, which scripts/
    deploy.py calls where it loads an ape account, before its first transaction): a key whose
    spec is not ECC_SECG_P256K1 is refused with a ConfigError naming the option and the spec
    (the deploy prints it and exits 1), no credential in it; the right key answers with its
    address."""
    from ballast_dev.deployment.kms_account import kms_account
    from keepers.core.errors import ConfigError

    for k, v in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_KMS": kms.endpoint,
    }.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError) as wrong:
        kms_account(kms.create_key(spec="ECC_NIST_P256"))
    assert "--aws-kms" in str(wrong.value) and "ECC_NIST_P256" in str(wrong.value), wrong.value
    assert SECRET not in str(wrong.value)
    key = kms.create_key()
    want = address_from_spki(kms.client().get_public_key(KeyId=key)["PublicKey"])
    assert kms_account(key).address == want
