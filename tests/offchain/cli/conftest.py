"""The deployed local fund (module-scoped, as in tests/offchain/fundbot) plus the automation
contracts (per test) on ape's anvil, and the environment that `keeper run` reads for them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak

from ballast_dev.deployment.automation import deploy_automation
from ballast_dev.deployment.profile import deploy_profile, load_profile

ROOT = Path(__file__).resolve().parents[3]
UNIT = 10**6


def selector(signature: str) -> str:
    return "0x" + keccak(text=signature)[:4].hex()


@pytest.fixture(scope="module")
def fund(accounts: Any, chain: Any) -> Any:
    profile = load_profile(ROOT / "scripts/profiles/local.yaml")
    f = deploy_profile(profile, accounts[0], accounts, log=lambda *_: None)
    admin, keeper = accounts[1], accounts[2]
    f.cash.mint(admin, 10_000_000 * UNIT, sender=accounts[0])
    f.cash.approve(f.vault, 2**256 - 1, sender=admin)
    f.vault.deposit(2_000_000 * UNIT, admin, sender=admin)
    f.controller.rebalance(True, sender=keeper)
    return f


@pytest.fixture
def fresh(fund: Any, chain: Any) -> Iterator[Any]:
    snap = chain.snapshot()
    yield fund
    chain.restore(snap)


@pytest.fixture
def auto(fresh: Any, project: Any, deployer: Any, gov: Any) -> dict[str, Any]:
    addrs = deploy_automation(
        project,
        deployer,
        gov,
        base_fee=10**9,
        slot_seconds=60,
        funder_deposit=10**18,
        paid_interval=3_600,
        paid_effort=400_000,
        supervisor_interval=3_600,
    )
    return {
        "scheduler": project.RebalanceScheduler.at(addrs["scheduler"]),
        "funder": project.TxFunder.at(addrs["tx_funder"]),
        "registry": project.PaidRebalancerRegistry.at(addrs["paid_registry"]),
        "supervisor": project.Supervisor.at(addrs["supervisor"]),
        "addresses": addrs,
    }


@pytest.fixture
def make_paid(project: Any, deployer: Any, alice: Any, gov: Any, auto: dict[str, Any]) -> Any:
    """make_paid(n) -> n (registry id, Rebalancer, TestPosition), each booked and authorised."""

    def make(n: int = 1) -> list[tuple[int, Any, Any]]:
        out = []
        for _ in range(n):
            pos = deployer.deploy(project.TestPosition, alice)
            tx = auto["registry"].createPaidRebalancerFor(pos, alice, sender=gov)
            rid = next(e for e in tx.events if e.event_name == "PaidRebalancerCreated").id
            reb = project.Rebalancer.at(auto["registry"].rebalancerOf(rid))
            pos.setRebalancer(reb, True, sender=alice)
            out.append((rid, reb, pos))
        return out

    return make


@pytest.fixture
def policy_file(auto: dict[str, Any], tmp_path: Path) -> Path:
    """KEEPER_POLICY_FILE: the executor and supervisor roles written by hand, as operators did
    before the bots declared their calls (the same calls the declarations give)."""
    a = auto["addresses"]

    def allow(contract: str, *sigs: str) -> list[dict[str, str]]:
        return [{"contract": contract, "selector": selector(s)} for s in sigs]

    data = {
        "roles": {
            "executor": {
                "allowed": allow(a["scheduler"], "executeBatch(uint256[])", "execute(uint256)")
            },
            "supervisor": {
                "allowed": allow(a["paid_registry"], "fixReschedule(uint256)")
                + allow(a["supervisor"], "fixReschedule()", "tick(uint256)")
            },
        }
    }
    p = tmp_path / "policy.json"
    p.write_text(json.dumps(data))
    return p


@pytest.fixture
def deployment_file(fresh: Any, tmp_path: Path) -> Path:
    p = tmp_path / "local.json"
    p.write_text(json.dumps(fresh.addresses(), default=str))
    return p


@pytest.fixture
def env(
    chain: Any,
    accounts: Any,
    auto: dict[str, Any],
    deployment_file: Path,
    tmp_path: Path,
) -> dict[str, str]:
    """Everything `keeper run` needs for all three bots. No KEEPER_POLICY*: the audit roles
    are built from the calls each bot declares (keepers.runtime.bots)."""
    a = auto["addresses"]
    return {
        # shared: node, store, signer, artifacts, logs
        "KEEPER_RPC_URL": chain.provider.uri,
        "KEEPER_DB_URL": f"sqlite:///{tmp_path}/keeper.db",
        "KEEPER_SIGNER_KEY": accounts[2].private_key,
        "KEEPER_ARTIFACTS_PATH": str(ROOT / ".build/__local__.json"),
        "KEEPER_LOG_LEVEL": "WARNING",
        "KEEPER_RETRY_BACKOFF_S": "0.05",
        # fund bot
        "KEEPER_DEPLOYMENT": str(deployment_file),
        "KEEPER_CHAIN_ID": str(chain.chain_id),
        "KEEPER_NATIVE_PRICE": "0",
        "REBALANCE_ADMINS": "alice,bob,carol",
        # executor
        "KEEPER_EXECUTOR_SCHEDULER": a["scheduler"],
        "KEEPER_EXECUTOR_DUE_SCAN_EVERY_S": "0",
        # supervisor
        "KEEPER_SUPERVISOR_SCHEDULER": a["scheduler"],
        "KEEPER_SUPERVISOR_REGISTRY": a["paid_registry"],
    }
