"""The deployment record is written step by step and a deploy resumes from it (issue 13,
"half-written deploys": a deploy that failed after 6 transactions left orphaned contracts and
nothing recorded); the hand-over says what the admin must still do, and the deployer keeps no
power."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from ballast_dev.deployment.handover import handover_status, render
from ballast_dev.deployment.profile import deploy_profile, load_profile
from ballast_dev.deployment.record import (
    DeployInterrupted,
    RecordedSteps,
    RecordError,
    check_resumable,
    load_record,
    profile_hash,
)
from keepers.tx.contracts import DeploymentError, FundAddresses
from tests.support.fundbotlib import timelock_sender

ROOT = Path(__file__).resolve().parents[3]
LOCAL = ROOT / "scripts" / "profiles" / "local.yaml"


@pytest.fixture(autouse=True)
def _fresh_contract_cache(chain):
    """A resumed deploy is a new process with an empty ape address cache. Earlier tests in the
    same session deploy other contracts at these addresses (the chain is reverted between
    tests), and ape would otherwise answer with their ABIs."""
    chain.contracts.clear_local_caches()
    yield


def quiet(*_: Any) -> None:
    pass


@pytest.fixture(scope="module")
def _local_deploy(accounts: Any) -> Any:
    """The local profile deployed once for the module (a deploy costs seconds; seven tests read
    or plant into the same deployment): never wider than the module (docs/development/
    testing.md)."""
    return deploy_profile(load_profile(LOCAL), accounts[0], accounts, log=quiet)


@pytest.fixture
def local_fund(_local_deploy: Any, chain: Any) -> Iterator[Any]:
    """The module's deployment of the local profile, restored to its deployed state after the
    test (what each test changes, a role granted or code planted, is undone)."""
    snap = chain.snapshot()
    yield _local_deploy
    chain.restore(snap)


def _header(profile: Any, chain: Any, deployer: Any) -> dict[str, Any]:
    return {
        "network": "ethereum:local",
        "chain_id": chain.chain_id,
        "deployer": str(deployer.address),
        "profile": str(LOCAL),
        "profile_hash": profile_hash(profile),
    }


@pytest.fixture
def record(tmp_path, chain, deployer) -> SimpleNamespace:
    """A deploy record of the local profile for this chain and deployer: `path`, `header`, and
    `open(log)`, which opens or resumes it as a re-run of the deploy would."""
    path = tmp_path / "r.json"
    header = _header(load_profile(LOCAL), chain, deployer)

    def open_(log: Any = quiet, path: Path = path, **kw: Any) -> RecordedSteps:
        return RecordedSteps.open(path, header, provider=chain.provider, log=log, **kw)

    return SimpleNamespace(path=path, header=header, open=open_)


def _wiring(data: dict[str, Any], fund: Any, project: Any) -> dict[str, Any]:
    """The record's addresses and the fund's on-chain links, each address replaced by the step
    that deployed it: equal for two deploys wired the same way."""
    name = {s["address"].lower(): s["step"] for s in data["steps"] if s.get("address")}
    name[str(fund.automation["fund_rebalancer"].address).lower()] = "(created by the registry)"

    def norm(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: norm(v) for k, v in x.items()}
        if isinstance(x, list):
            return [norm(v) for v in x]
        if isinstance(x, str) and x.lower() in name:
            return name[x.lower()]
        return x

    c = fund.controller
    chain_side = {
        "vault.controller": str(fund.vault.controller()),
        "controller.assets": [str(a) for a in c.assetList()],
        "scheduler.owner": str(fund.automation["scheduler"].owner()),
        "funder.lowRunwayIntervals": int(fund.automation["tx_funder"].lowRunwayIntervals()),
    }
    return norm({"record": fund.addresses(), "chain": chain_side})


def test_deploy__interrupted_twice__resumes_to_a_clean_deploys_wiring_deploying_nothing_twice(
    tmp_path, accounts, project, deployer, record
):
    profile = load_profile(LOCAL)
    clean = record.open(path=tmp_path / "clean.json")
    clean_fund = deploy_profile(profile, deployer, accounts, log=quiet, steps=clean)
    mine = [s for s in clean.data["steps"] if s["from"] == deployer.address]

    path = record.path
    nonce0 = deployer.nonce
    # stop in the fund's core, then again inside the automation wiring
    for stop in (5, 60):
        steps = record.open(stop_after=stop)
        with pytest.raises(DeployInterrupted):
            deploy_profile(profile, deployer, accounts, log=quiet, steps=steps)
        on_disk = json.loads(path.read_text())
        assert len(on_disk["steps"]) == stop and on_disk["complete"] is False
        assert "pending" not in on_disk
        with pytest.raises(DeploymentError, match="did not finish .* run it again to resume"):
            FundAddresses.from_dict(on_disk, str(path))  # the keeper refuses it meanwhile
    logged: list[str] = []
    steps = record.open(logged.append)
    assert logged and f"resuming from {path}: 60 steps done" in logged[0]
    fund = deploy_profile(profile, deployer, accounts, log=quiet, steps=steps)

    assert len(steps.sent) == len(clean.data["steps"]) - 60
    assert [s["step"] for s in steps.data["steps"]] == [s["step"] for s in clean.data["steps"]]
    # nothing deployed (or sent) twice: the deployer sent exactly what a clean deploy sends
    assert deployer.nonce - nonce0 == len(mine)
    deployed = [s["address"] for s in steps.data["steps"] if s.get("address")]
    assert len(deployed) == len(set(deployed))
    assert _wiring(steps.data, fund, project) == _wiring(clean.data, clean_fund, project)
    for s in steps.data["steps"]:
        assert s["block"] > 0 and s["gas"] > 0 and s["tx"].startswith("0x")


def test_deploy__record_of_another_chain_profile_or_deployer__refused():
    header = {
        "network": "ethereum:upstream",
        "chain_id": 31337,
        "deployer": "0x" + "11" * 20,
        "profile": "p.yaml",
        "profile_hash": "0x" + "ab" * 32,
    }
    base = {"version": 1, "complete": False, "steps": [], **header}
    cases = [
        ({"chain_id": 1}, "was written on chain 1, connected to chain 31337"),
        ({"profile_hash": "0x" + "cd" * 32}, "was written from another profile"),
        ({"deployer": "0x" + "22" * 20}, "resume with the same --account"),
        ({"complete": True, "vault": "0xv"}, "this deploy is complete (vault 0xv)"),
        ({"version": None}, "written by an older deploy"),
    ]
    for change, message in cases:
        with pytest.raises(RecordError) as info:
            check_resumable({**base, **change}, header, Path("r.json"))
        assert message in str(info.value)
    check_resumable(base, header, Path("r.json"))  # the same header resumes


def test_load_record__not_json_or_not_an_object__refused_as_the_keeper_refuses_it(tmp_path):
    # the deploy reads its record with the keeper's reader: the same file, the same words
    record = tmp_path / "r.json"
    for text, said in (("{cut", "is not valid JSON: "), ("[1, 2]", ": expected a JSON object")):
        record.write_text(text)
        with pytest.raises(DeploymentError) as keeper:
            FundAddresses.load(record)
        with pytest.raises(RecordError) as deploy:
            load_record(record)
        assert said in str(keeper.value) and f"deployment file {record}" in str(keeper.value)
        assert str(deploy.value) == f"{keeper.value}: move it away to deploy anew"


def test_profile_hash__layout_does_not_count__values_do(tmp_path):
    doc = yaml.safe_load(LOCAL.read_text())
    a = tmp_path / "a.yaml"
    a.write_text("# a comment\n" + yaml.safe_dump(doc, indent=4))
    assert profile_hash(load_profile(a)) == profile_hash(load_profile(LOCAL))
    doc["risk"]["loss_budget"] += 1
    a.write_text(yaml.safe_dump(doc))
    assert profile_hash(load_profile(a)) != profile_hash(load_profile(LOCAL))


def test_resume__recorded_contract_without_code__refused(record, deployer):
    path, header = record.path, record.header
    step = {"step": "deploy:vault", "from": deployer.address, "nonce": deployer.nonce - 1,
            "tx": "0x00", "block": 1, "gas": 1, "address": "0x" + "de" * 20}  # fmt: skip
    path.write_text(json.dumps({"version": 1, "complete": False, **header, "steps": [step]}))
    with pytest.raises(RecordError, match="no contract code at deploy:vault 0x"):
        record.open()


def test_resume__pending_step__sent_again_when_never_mined_refused_when_its_nonce_was_used(
    record, deployer, accounts
):
    path, header = record.path, record.header
    pending = {"step": "deploy:cash", "from": deployer.address, "nonce": deployer.nonce,
               "tx": "0x" + "77" * 32}  # fmt: skip
    doc = {"version": 1, "complete": False, **header, "steps": [], "pending": pending}
    path.write_text(json.dumps(doc))
    logged: list[str] = []
    steps = record.open(logged.append)
    assert "was never mined; sending it again" in logged[0]
    assert "pending" not in json.loads(path.read_text()) and not steps.done("deploy:cash")

    path.write_text(json.dumps(doc))
    deployer.transfer(accounts[9], 1)  # another transaction takes the recorded nonce
    with pytest.raises(RecordError, match="was used by a transaction that is not the one"):
        record.open()


def test_resume__deployer_sent_unrecorded_transactions__refused(record, deployer, accounts):
    steps = record.open()
    steps.transfer("a transfer", deployer, accounts[9], 1)
    deployer.transfer(accounts[9], 1)  # not through the record
    with pytest.raises(RecordError, match="has sent 1 transaction"):
        record.open()


def test_handover__bare_address_admin__checklist_of_four_accepts_then_complete(
    tmp_path, accounts, project, deployer
):
    """A real network's admin is an address (a multisig), not a signer the deploy holds: the
    four Ownable2Step contracts wait for its acceptOwnership, and the deploy says so."""
    doc = yaml.safe_load(LOCAL.read_text())
    admin = accounts[6]
    doc["roles"]["admin"] = str(admin.address)
    p = tmp_path / "p.yaml"
    p.write_text(yaml.safe_dump(doc))
    fund = deploy_profile(load_profile(p), deployer, accounts, log=quiet)
    record = fund.addresses()

    h = handover_status(project, record, deployer.address, admin.address)
    assert h.held == []  # every role and ownership of the deployer is gone or pending
    assert sorted(t["contract"] for t in h.todo) == sorted(
        ["RebalanceScheduler", "TxFunder", "PaidRebalancerRegistry", "Supervisor"]
    )
    assert {t["call"] for t in h.todo} == {"acceptOwnership()"}
    assert {t["who"] for t in h.todo} == {f"admin {admin.address}"}
    text = render(h)
    assert "4 call(s) the admin must make" in text and "acceptOwnership()" in text
    for t in h.todo:
        assert t["address"] in text

    for t in h.todo:
        getattr(project, t["contract"]).at(t["address"]).acceptOwnership(sender=admin)
    done = handover_status(project, record, deployer.address, admin.address)
    assert done.complete and render(done).startswith("hand-over complete")


def test_handover__deployer_keeps_a_role__listed_as_held(accounts, project, deployer, local_fund):
    fund = local_fund
    admin = accounts[1]
    assert handover_status(project, fund.addresses(), deployer.address, admin.address).complete
    # a deploy that forgot to renounce: the check reads the chain, not what the deploy meant
    timelock = timelock_sender(fund, accounts)  # the role's admin
    fund.vault.grantRole(fund.vault.KEEPER_ROLE(), deployer, sender=timelock)
    h = handover_status(project, fund.addresses(), deployer.address, admin.address)
    assert h.held == [f"vault {fund.vault.address}: KEEPER_ROLE"]
    assert "still holds" in render(h)


def test_deploy__funder_runway__set_from_profile_and_finite(local_fund):
    profile = load_profile(LOCAL)
    fund = local_fund
    funder = fund.automation["tx_funder"]
    assert int(funder.lowRunwayIntervals()) == profile.automation.low_runway_intervals
    expected = int(funder.expectedFeePerInterval())
    assert expected > 0
    runway = int(funder.runway())
    assert runway == int(funder.balance) // expected < 2**256 - 1
    # the local deposit lasts longer than the alert threshold: no alert at deploy
    assert runway >= profile.automation.low_runway_intervals


def test_deploy__fund_automation__controller_trusted_and_reserve_kept(local_fund):
    """Issue 45: the deploy flags the fund's controller as the one target whose RebalanceHeld is
    believed, and keeps half the funder's daily cap for the fund's rebalancer and the
    supervisor (paid positions stop at the other half)."""
    profile = load_profile(LOCAL)
    fund = local_fund
    a = fund.automation
    funder, reb = a["tx_funder"], a["fund_rebalancer"]
    assert reb.trustedTarget() and reb.position() == fund.controller.address
    assert funder.isReserved(reb) and funder.isReserved(a["supervisor"])
    cap = profile.automation.funder_spend_cap_wei
    assert int(funder.reserve()) == cap // 2 == profile.automation.reserve_wei


def test_resume__pending_step_mined_while_stopped__recorded_not_sent_again(
    record, deployer, accounts
):
    """A deploy killed after broadcasting and before recording: the re-run finds the
    transaction mined and records it instead of sending it again."""
    path = record.path
    steps = record.open()
    steps.transfer("pay", deployer, accounts[9], 5)
    doc = json.loads(path.read_text())
    step = doc["steps"].pop()  # as if the process died between the receipt and the write
    doc["pending"] = {k: step[k] for k in ("step", "from", "nonce", "tx")}
    path.write_text(json.dumps(doc))
    nonce = deployer.nonce

    logged: list[str] = []
    again = record.open(logged.append)
    assert any("was mined while the deploy was stopped" in m for m in logged)
    assert again.done("pay") and again.data["steps"][-1]["tx"] == step["tx"]
    again.transfer("pay", deployer, accounts[9], 5)  # done: nothing sent
    assert deployer.nonce == nonce


def test_step__reverted_on_chain__not_recorded_as_done_and_its_nonce_accounted_for(
    record, deployer, accounts, project
):
    path = record.path
    steps = record.open()
    funder = steps.deploy("deploy:f", project.TxFunder, accounts[8], 10**18, sender=deployer)
    # not the owner: reverts; a set gas limit skips the estimate, so it is mined and fails
    txn = funder.setRunwayParams.as_transaction(1, 1, sender=deployer, gas=200_000)
    with pytest.raises(Exception):  # noqa: B017 - ape's ContractLogicError
        steps._send("funder.setRunwayParams", deployer, txn, what="x", to=funder.address)
    doc = json.loads(path.read_text())
    assert not steps.done("funder.setRunwayParams") and "pending" not in doc
    assert [f["step"] for f in doc["failed"]] == ["funder.setRunwayParams"]
    # the reverted transaction's nonce is no unrecorded transaction: the record resumes
    record.open()


def test_handover__controller_given_a_planted_module__not_complete_names_it(
    accounts, project, deployer, local_fund
):
    """A deployer can name any code that answers the constructor's two checks (this release,
    the vault) as the controller's configuration module, which then runs on the controller's
    storage: the hand-over check compares the module's code with what this release's
    AssetControllerAdmin makes for the vault (eth_call of its creation code) and holds the
    deploy incomplete, naming it."""
    fund = local_fund
    admin = accounts[1]
    record = fund.addresses()
    assert handover_status(project, record, deployer.address, admin.address).complete
    vault = fund.vault
    planted = deployer.deploy(project.TestPlantedAdminModule, vault)
    tiers = [(1000, 500, 2000), (3000, 2000, 4000), (6000, 5000, 7000)]
    rogue = deployer.deploy(
        project.AssetController, vault, admin, planted, tiers, (500, 300, 6000, 3600, 0)
    )
    assert rogue.adminModule() == planted.address  # the constructor's checks let it through
    h = handover_status(project, {**record, "controller": rogue.address}, deployer.address,
                        admin.address)  # fmt: skip
    assert not h.complete
    assert h.held == [
        f"controller {rogue.address}: its configuration module {planted.address} is not this "
        f"release's AssetControllerAdmin made for the vault {vault.address} (its code differs: "
        "code planted by the deployer, or this checkout is not the release that deployed it)"
    ]


def _planted(chain: Any, address: str, code: bytes) -> None:
    chain.provider.make_request("anvil_setCode", [address, "0x" + code.hex()])


@pytest.mark.parametrize("binding", ["ape", "web3"])
def test_handover__planted_controller_or_vault__not_complete_names_each(
    accounts, project, deployer, chain, binding, local_fund
):
    """The controller and the vault are each compared with what this release's creation code
    makes for this deployment (eth_call with its constructor arguments: the vault for the
    record's cash, the controller for the vault with its module), through ape or a web3
    binding: the genuine deployment passes; a controller whose code differs by one byte, and a
    vault that is this release's TieredVault made for another cash token (its immutables), are
    each named and hold the deploy incomplete."""
    from tests.support.web3_views import Web3Project

    fund = local_fund
    admin = accounts[1]
    record = fund.addresses()
    bound = project if binding == "ape" else Web3Project(chain.provider.web3)
    assert handover_status(bound, record, deployer.address, admin.address).complete
    w3 = chain.provider.web3
    controller, vault = fund.controller.address, fund.vault.address

    code = bytearray(w3.eth.get_code(controller))
    code[-40] ^= 0x01  # in the metadata: the code runs the same, it is not the release's
    _planted(chain, controller, bytes(code))
    h = handover_status(bound, record, deployer.address, admin.address)
    assert not h.complete
    assert h.held == [
        f"controller {controller}: not this release's AssetController made for the vault "
        f"{vault} with the module {fund.controller.adminModule()} (its code differs: code "
        "planted by the deployer, or this checkout is not the release that deployed it)"
    ]
    code[-40] ^= 0x01
    _planted(chain, controller, bytes(code))  # its own code again
    assert handover_status(bound, record, deployer.address, admin.address).complete

    other = deployer.deploy(project.TieredVault, fund.assets["TBILL-A"], "x", "x", deployer)
    _planted(chain, vault, bytes(w3.eth.get_code(other.address)))
    h = handover_status(bound, record, deployer.address, admin.address)
    assert h.held[-1] == (
        f"vault {vault}: not this release's TieredVault made for the cash {record['cash']} "
        "(its code differs: code planted by the deployer, or this checkout is not the release "
        "that deployed it)"
    ), h.held
    # the module's and the controller's immutables are the vault's answers (its cash and
    # decimals): made for this vault now, they differ too, and each is named
    assert [x.split(":")[0] for x in h.held] == [f"controller {controller}"] * 2 + [
        f"vault {vault}"
    ]


def test_handover__web3_binding__planted_module_named_too(
    accounts, project, deployer, chain, local_fund
):
    """The module check runs through a web3 binding as through ape (it was skipped there)."""
    from tests.support.web3_views import Web3Project

    fund = local_fund
    admin = accounts[1]
    planted = deployer.deploy(project.TestPlantedAdminModule, fund.vault)
    tiers = [(1000, 500, 2000), (3000, 2000, 4000), (6000, 5000, 7000)]
    rogue = deployer.deploy(
        project.AssetController, fund.vault, admin, planted, tiers, (500, 300, 6000, 3600, 0)
    )
    record = {**fund.addresses(), "controller": rogue.address}
    h = handover_status(Web3Project(chain.provider.web3), record, deployer.address, admin.address)
    assert h.held == [
        f"controller {rogue.address}: its configuration module {planted.address} is not this "
        f"release's AssetControllerAdmin made for the vault {fund.vault.address} (its code "
        "differs: code planted by the deployer, or this checkout is not the release that "
        "deployed it)"
    ]
