"""A keeper run end to end on the local fund with its key in KMS (issue 63): the local profile
deployed with the KMS key's address as the keeper (KEEPER_ROLE granted by the deploy, as to a
raw key's address), the address funded, and `keeper run --once` with
KEEPER_SIGNER_KIND=aws-kms executing an approved plan: every transaction signed by the KMS
stand-in (LocalStack's KMS on loopback), validated and confirmed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from ballast_dev.deployment.profile import deploy_profile, load_profile
from ballast_dev.local.kms_local import CREDENTIALS, KmsStandIn, start_kms
from keepers.cli import main
from keepers.tx.kms import AwsKmsSigner
from tests.support.fundbotlib import ROOT, UNIT, plan_from_terminal
from tests.support.keeper_store import intents_per_key, plan_rows


@pytest.fixture(scope="module")
def kms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KmsStandIn]:
    stand_in = start_kms(tmp_path_factory.mktemp("kms"))
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def kms_keeper(kms: KmsStandIn) -> dict[str, str]:
    key = kms.create_key()
    with pytest.MonkeyPatch.context() as mp:
        for k, v in CREDENTIALS.items():
            mp.setenv(k, v)
        address = AwsKmsSigner(key, region="us-east-1", endpoint_url=kms.endpoint).address
    return {"key": key, "address": address}


@pytest.fixture(scope="module")
def fund(accounts: Any, chain: Any, kms_keeper: dict[str, str]) -> Any:
    """The local profile with the KMS key's address as its keeper (the deploy grants it
    KEEPER_ROLE), 2M of cash deposited, the address funded for gas."""
    profile = load_profile(ROOT / "scripts/profiles/local.yaml")
    roles = {**profile.roles, "keeper": kms_keeper["address"]}
    profile = profile.model_copy(update={"roles": roles})
    f = deploy_profile(profile, accounts[0], accounts, log=lambda *_: None)
    admin = accounts[1]
    f.cash.mint(admin, 10_000_000 * UNIT, sender=accounts[0])
    f.cash.approve(f.vault, 2**256 - 1, sender=admin)
    f.vault.deposit(2_000_000 * UNIT, admin, sender=admin)
    accounts[0].transfer(kms_keeper["address"], 10 * 10**18)
    assert f.controller.hasRole(f.controller.KEEPER_ROLE(), kms_keeper["address"])
    return f


def keeper(env: dict[str, str], *args: str) -> Any:
    return CliRunner(mix_stderr=False).invoke(main, list(args), env=env)


def test_keeper_run_once__key_in_kms__approved_plan_executed_signed_by_kms(
    chain: Any,
    env: dict[str, str],
    fresh: Any,
    accounts: Any,
    kms: KmsStandIn,
    kms_keeper: dict[str, str],
) -> None:
    env = {k: v for k, v in env.items() if k != "KEEPER_SIGNER_KEY"}
    env.update(
        CREDENTIALS,
        KEEPER_SIGNER_KIND="aws-kms",
        KEEPER_SIGNER_KMS_KEY_ID=kms_keeper["key"],
        KEEPER_SIGNER_KMS_REGION="us-east-1",
        KEEPER_SIGNER_KMS_ENDPOINT_URL=kms.endpoint,
    )
    w3 = chain.provider.web3
    address = kms_keeper["address"]
    ref = plan_from_terminal(env, fresh, accounts[1])
    for admin in ("alice", "bob"):
        assert keeper(env, "approve", ref, "--by", admin).exit_code == 0
    nonce0 = w3.eth.get_transaction_count(address)

    r = keeper(env, "run", "--once")
    assert r.exit_code == 0, r.output + r.stderr
    assert f"plan {ref}: executed" in r.stdout, r.stdout
    ((_, status, acts),) = plan_rows(env["KEEPER_DB_URL"])
    assert status == "executed" and len(acts) >= 1
    sent = w3.eth.get_transaction_count(address) - nonce0
    assert sent == len(acts)  # every action sent from the KMS key's address, once
    fund_keys = {k: n for k, n in intents_per_key(env["KEEPER_DB_URL"]).items() if "fund:" in k}
    assert fund_keys == {f"fund:{ref}:{i}": 1 for i in range(len(acts))}
