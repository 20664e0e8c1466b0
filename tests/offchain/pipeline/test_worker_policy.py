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
from tests.support.pipeline_helpers import run_worker

from keepers.fund.bot import ROLE as FUND_ROLE
from keepers.fund.bot import fund_role
from keepers.runtime.policy import worker_policy
from keepers.tx.contracts import DeploymentError
from keepers.tx.policy import AuditRequest, audit
from keepers.core.settings import KeeperSettings

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
    policy = worker_policy(KeeperSettings(), env)
    assert policy.roles[FUND_ROLE] == fund_role(CONTROLLER)
    assert "crosschain" in policy.roles
    assert audit(_req(FUND_ROLE, CONTROLLER, "rebalanceBuffer()"), policy, 0).allowed
    assert audit(_req("crosschain", USDC_BSC, "approve(address,uint256)"), policy, 0).allowed


def test_worker_policy__configured_role_of_the_same_name__wins(tmp_path):
    own = {"roles": {FUND_ROLE: {"allowed": []}}}
    settings = KeeperSettings.model_validate({"policy": own})
    policy = worker_policy(settings, {"KEEPER_DEPLOYMENT": str(_record(tmp_path))})
    assert policy.roles[FUND_ROLE].allowed == []


def test_worker_policy__no_bot_configured__only_keeper_policy(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no default deployment record here
    assert worker_policy(KeeperSettings(), {}).roles == {}


def test_worker_policy__deployment_named_but_missing__refused(tmp_path):
    with pytest.raises(DeploymentError, match="not found"):
        worker_policy(KeeperSettings(), {"KEEPER_DEPLOYMENT": str(tmp_path / "none.json")})


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
