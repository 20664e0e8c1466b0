"""Issue 12: the standalone worker audits with the same roles as the bots that submit the
intents (the fund bot's role on the controller, the cross-chain bot's on its tokens and
bridges), built from the same environment; before, it audited with KEEPER_POLICY* alone and
rejected every fund or cross-chain intent unless an operator copied those roles by hand."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from eth_utils import keccak
from sqlalchemy import select

from keepers.core.settings import KeeperSettings, PolicyConfig
from keepers.fund.bot import ROLE as FUND_ROLE
from keepers.fund.bot import fund_role
from keepers.registry import declarations
from keepers.runtime.policy import store_policy, stored_policy, worker_policy
from keepers.store.db import Store
from keepers.store.models import TxIntent
from keepers.tx.contracts import DeploymentError
from keepers.tx.pipeline import submit_intent
from keepers.tx.policy import AuditRequest, audit
from tests.support.pipeline_anvil import ARTIFACTS
from tests.support.pipeline_helpers import SENDER_KEY, hit_spec, run_worker

CONTROLLER = "0x" + "c0" * 20
USDC_ETH = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
USDC_BSC = "0x8AC76a51cc950d9822D68b83fE1Ad97B32Cd580d"
KEEPER = "0x" + "ab" * 20


def _record(tmp_path: Path) -> Path:
    p = tmp_path / "deployment.json"
    p.write_text(
        json.dumps(
            {
                "controller": CONTROLLER,
                "lens": "0x" + "1e" * 20,
                "vault": "0x" + "7a" * 20,
                "cash": USDC_ETH,
            }
        )
    )
    return p


def _crosschain(tmp_path: Path) -> Path:
    p = tmp_path / "crosschain.json"
    usdc = {"address": USDC_ETH, "decimals": 6}
    p.write_text(
        json.dumps(
            {
                "trigger_percentage": "0.5",
                "chains": [
                    {
                        "name": "ethereum",
                        "rpc_url": "http://127.0.0.1:8545",
                        "chain_id": 1,
                        "tokens": {"USDC": usdc},
                        "base_balances": {"USDC": "100"},
                        "routes": ["CEX"],
                    },
                    {
                        "name": "bsc",
                        "rpc_url": "http://127.0.0.1:8546",
                        "chain_id": 56,
                        "tokens": {"USDC": {"address": USDC_BSC, "decimals": 18}},
                        "base_balances": {"USDC": "100"},
                        "routes": ["CEX"],
                    },
                ],
                "route_costs": {"CEX": 10},
            }
        )
    )
    return p


def _req(role: str, target: str, sig: str) -> AuditRequest:
    return AuditRequest(
        "call", role, KEEPER, target, "0x" + keccak(text=sig)[:4].hex() + "00" * 64, 0, 0, 1, 10**12
    )


def test_worker_policy__bots_configured__their_roles_added_as_the_bots_build_them(tmp_path):
    env = {
        "KEEPER_DEPLOYMENT": str(_record(tmp_path)),
        "BALLAST_CROSSCHAIN_CONFIG": str(_crosschain(tmp_path)),
    }
    policy = worker_policy(KeeperSettings(), declarations(), env)
    assert policy.roles[FUND_ROLE] == fund_role(CONTROLLER)
    assert "crosschain" in policy.roles
    assert audit(_req(FUND_ROLE, CONTROLLER, "rebalanceBuffer()"), policy, 0).allowed
    assert audit(_req("crosschain", USDC_BSC, "approve(address,uint256)"), policy, 0).allowed


def test_worker_policy__configured_role_of_the_same_name__wins(tmp_path):
    own = {"roles": {FUND_ROLE: {"allowed": []}}}
    settings = KeeperSettings.model_validate({"policy": own})
    policy = worker_policy(settings, declarations(), {"KEEPER_DEPLOYMENT": str(_record(tmp_path))})
    assert policy.roles[FUND_ROLE].allowed == []


def test_worker_policy__no_bot_configured__only_keeper_policy(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no default deployment record here
    assert worker_policy(KeeperSettings(), declarations(), {}).roles == {}


def test_worker_policy__deployment_named_but_missing__refused(tmp_path):
    with pytest.raises(DeploymentError, match="not found"):
        worker_policy(
            KeeperSettings(), declarations(), {"KEEPER_DEPLOYMENT": str(tmp_path / "none.json")}
        )


def test_worker__named_deployment_missing__exits_2_before_touching_the_store(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEPER_")}
    env.update(
        KEEPER_DB_URL=f"sqlite:///{tmp_path}/k.db",
        KEEPER_DEPLOYMENT=str(tmp_path / "none.json"),
    )
    out = run_worker(env, "--until-idle", timeout=60)
    assert out.returncode == 2, out.stderr
    assert "none.json not found" in out.stderr
    assert not (tmp_path / "k.db").exists()


def test_stored_policy__written_twice__replaced_by_name_and_other_roles_kept(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/k.db")
    a = {"allowed": [{"contract": CONTROLLER, "selector": "0x12345678"}]}
    b = {"allowed": [], "max_value_wei": 5}
    store_policy(store, PolicyConfig.model_validate({"roles": {"x": a, "y": b}}), "fund")
    store_policy(store, PolicyConfig.model_validate({"roles": {"y": {"allowed": []}}}), "cc")
    roles = stored_policy(store).roles
    store.close()
    assert sorted(roles) == ["x", "y"]
    assert roles["x"].allowed[0].selector == "0x12345678" and roles["y"].max_value_wei == 0


def test_worker__only_db_url_and_signer__audits_every_bots_intents_with_the_stored_policy(
    tmp_path, anvil, counter
):
    """Replicas of a PostgreSQL deployment: `keeper run` stored the roles of the fund,
    automation and cross-chain bots; a worker given nothing but the database, the node and its
    key works their intents, and still rejects a role nobody declared."""
    db = f"sqlite:///{tmp_path}/replica.db"
    hit = {"contract": counter.address, "selector": "0x" + keccak(text="hit(uint256)")[:4].hex()}
    roles = {r: {"allowed": [hit]} for r in (FUND_ROLE, "executor", "supervisor", "crosschain")}
    store = Store(db)
    store_policy(store, PolicyConfig.model_validate({"roles": roles}), "fund,executor,crosschain")
    ids = {}
    for n, role in enumerate([*roles, "stranger"]):
        spec = hit_spec(counter, 7100 + n, role=role, key=f"replica:{role}")
        ids[role] = submit_intent(store, spec).id
    store.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEEPER_", "BALLAST_"))}
    env.update(
        KEEPER_DB_URL=db,
        KEEPER_RPC_URL=anvil.url,
        KEEPER_SIGNER_KEY=SENDER_KEY,
        KEEPER_ARTIFACTS_PATH=str(ARTIFACTS),  # revert decoding only
        KEEPER_LOG_LEVEL="WARNING",
    )
    out = run_worker(env, "--until-idle", timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    store = Store(db)
    with store.sessions() as s:
        status = dict(s.execute(select(TxIntent.id, TxIntent.status)).all())
    store.close()
    assert {role: status[i] for role, i in ids.items()} == {
        FUND_ROLE: "confirmed",
        "executor": "confirmed",
        "supervisor": "confirmed",
        "crosschain": "confirmed",
        "stranger": "rejected",
    }
    assert [counter.functions.hits(7100 + n).call() for n in range(5)] == [1, 1, 1, 1, 0]
