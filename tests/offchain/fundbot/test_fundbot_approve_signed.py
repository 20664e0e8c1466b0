"""`keeper approve PLAN --account ALIAS | --signature 0x...` and `keeper review` (issue 15,
"Approvals that mean something"; issue 13, "approving from a terminal"): an approval of a plan
frozen for the PlanExecutor is an EIP-712 signature by an admin's key over the exact plan,
recorded by the RECOVERED address; `keeper review` shows who signed what and whether it counts
now. Chain-free: the approve command is store-only (no node, no keeper key), so a store holds a
plan row with the keeper's `frozen` and `approval` documents, and approvers' ape keystores live
in a temporary APE_DATA_FOLDER (ballast_dev.local.keystores)."""

from __future__ import annotations

import datetime as dt
import json
import socket
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from eth_account import Account
from eth_account.messages import encode_typed_data

from ballast_dev.local.keystores import account_address, account_key, write_test_keystores
from keepers.cli import main
from keepers.core.errors import EXIT_CONFIG, EXIT_DOMAIN
from keepers.core.signatures import SECP256K1_N
from keepers.fund.planning.actions import Action, ActionType, Plan
from keepers.fund.planning.plan_approval import (
    SignedPlan,
    count_approvals,
    pack_signature,
    plan_hash,
    sign_plan,
    typed_data_json,
)
from keepers.fund.records import APPROVED, PENDING_APPROVAL, PROPOSED, PlanStore
from keepers.store.db import Store
from tests.support.signed_plans import HOUR, NOW, frozen_plan

PASSPHRASE = "correct-horse-battery-7f3a"
NAMES = ("alice", "bob", "carol", "mallory")
OWNERS = [account_address(n) for n in ("alice", "bob", "carol")]
SECRETS = [PASSPHRASE, *(account_key(n) for n in NAMES), *(account_key(n)[2:] for n in NAMES)]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret.lower() not in text.lower(), f"secret in output: {text[:300]}"


@dataclass
class Fund:
    """A store with plans waiting for approval, as the running keeper leaves them."""

    env: dict[str, str]
    plans: PlanStore
    ape: Path

    def add_plan(self, ref: str, frozen: bool = True, admins: list[str] | None = None) -> str:
        action = Action(ActionType.ALLOCATE, 200_000_000_000, 0, "invest L2", 0, 1)
        plan = Plan(ref, NOW, (), (action, replace(action, priority=1, to_tier=2)))
        payload: dict[str, Any] = {
            "approval": {
                "status": "pending",
                "requirement": "multi_admin",
                "required": 2,
                "deadline": NOW + 4 * HOUR,
                "admins": [a.lower() for a in (admins or OWNERS)],
            }
        }
        if frozen:
            payload["frozen"] = frozen_plan(ref).to_frozen(
                [0, 1], ["allocateToLayer", "allocateToLayer"]
            )
        self.plans.save_new(plan, PROPOSED, payload)
        self.plans.update(ref, PENDING_APPROVAL)
        return ref

    def recorded(self, ref: str) -> list[tuple[str, str]]:
        return [(a.admin, a.signature) for a in self.plans.approvals(ref)]


@pytest.fixture
def fund(tmp_path: Path) -> Any:
    ape = tmp_path / "ape"
    write_test_keystores(ape, PASSPHRASE, NAMES, scrypt_n=2**10)
    url = f"sqlite:///{tmp_path}/keeper.db"
    store = Store(url)
    env = {
        "KEEPER_DB_URL": url,
        # approving needs no node: a closed port proves nothing is asked of one
        "KEEPER_RPC_URL": f"http://127.0.0.1:{closed_port()}",
        "KEEPER_LOG_LEVEL": "WARNING",
        "APE_DATA_FOLDER": str(ape),
        **{f"APE_ACCOUNTS_{n}_PASSPHRASE": PASSPHRASE for n in NAMES},
    }
    f = Fund(env, PlanStore(store), ape)
    f.add_plan("plan-3e0efd41")
    yield f
    store.close()


REF = "plan-3e0efd41"


def keeper(env: dict[str, Any], *args: str, at: int = NOW + 60) -> Any:
    r = CliRunner(mix_stderr=False).invoke(
        main, ["--now", str(at), *args], env=env, catch_exceptions=False
    )
    assert_no_secret(r.stdout, r.stderr)
    return r


def test_approve__two_of_three_sign__recorded_by_address_and_counted(fund):
    r = keeper(fund.env, "approve", REF[:9], "--account", "alice")
    assert r.exit_code == 0, r.stderr
    plan = frozen_plan(REF)
    # what is signed, before signing: chain, contracts, deadline in UTC, actions, hash
    for shown in (
        "chain id    31337",
        f"executor    {plan.executor}",
        f"controller  {plan.controller}",
        "2027-01-15 14:00:00 UTC",
        "0. allocateToLayer",
        "0x" + plan.action_hashes()[1].hex(),
        f"plan hash   0x{plan_hash(plan).hex()}",
    ):
        assert shown in r.stdout, shown
    assert f"signed by {OWNERS[0]} recorded (1 of 2)" in r.stdout
    r = keeper(fund.env, "--json", "approve", REF, "--account", "bob", "--note", "ok", at=NOW + 90)
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["signer"] == OWNERS[1] and out["approvals"] == 2 and out["required"] == 2
    assert out["signed"]["plan_hash"] == out["plan_hash"] == "0x" + plan_hash(plan).hex()
    rec = fund.plans.approvals(REF)
    assert [a.admin for a in rec] == OWNERS[:2]
    assert [a.note for a in rec] == ["account alice", "account bob: ok"]
    assert {a.plan_hash for a in rec} == {"0x" + plan_hash(plan).hex()}
    # the keeper's rule counts both: distinct owners, this plan, in time
    got = count_approvals(plan, [a.signature for a in rec], OWNERS, NOW + 120)
    assert got.approvers == tuple(OWNERS[:2])
    r = keeper(fund.env, "review", REF, "--json", at=NOW + 120)
    view = json.loads(r.stdout)
    assert view["signatures"]["counted"] == 2 and view["signatures"]["required"] == 2
    assert [(a["signer"], a["counts"], a["reason"]) for a in view["approvals"]] == [
        (OWNERS[0], True, ""),
        (OWNERS[1], True, ""),
    ]
    # every waiting plan, without PLAN
    r = keeper(fund.env, "review", at=NOW + 120)
    assert r.exit_code == 0 and f"plan {REF}  pending_approval" in r.stdout
    assert "2 of 2 counted" in r.stdout and r.stdout.count("counts") == 2


@pytest.mark.parametrize(
    "who, args, code, message",
    [
        ("mallory", ("--account", "mallory"), EXIT_DOMAIN, "not an admin of plan"),
        ("eve", ("--account", "eve"), EXIT_DOMAIN, "known: alice, bob, carol, mallory"),
        ("nobody", ("--by", "alice"), EXIT_DOMAIN, "sign with --account ALIAS"),
    ],
    ids=["non_owner_keystore", "unknown_alias", "by_name_on_frozen_plan"],
)
def test_approve__attacker_or_unknown__refused_nothing_recorded(fund, who, args, code, message):
    r = keeper(fund.env, "approve", REF, *args)
    assert r.exit_code == code and message in r.stderr, r.stderr
    assert fund.recorded(REF) == []


def test_approve__same_signer_twice__refused_counted_once(fund):
    assert keeper(fund.env, "approve", REF, "--account", "carol").exit_code == 0
    r = keeper(fund.env, "approve", REF, "--account", "carol", at=NOW + 70)
    assert r.exit_code == EXIT_DOMAIN and "already decided" in r.stderr
    assert [a for a, _ in fund.recorded(REF)] == [OWNERS[2]]


def test_approve__expired_or_not_waiting_or_unknown__refused_before_any_passphrase(fund):
    no_pass = {**fund.env, "APE_ACCOUNTS_alice_PASSPHRASE": None}
    r = keeper(no_pass, "approve", REF, "--account", "alice", at=NOW + 4 * HOUR + 1)
    assert r.exit_code == EXIT_DOMAIN and "expired" in r.stderr, r.stderr
    r = keeper(no_pass, "approve", "plan-nosuch", "--account", "alice")
    assert r.exit_code == EXIT_DOMAIN and "no plan 'plan-nosuch'" in r.stderr
    fund.plans.update(REF, APPROVED)
    r = keeper(no_pass, "approve", REF, "--account", "alice")
    assert r.exit_code == EXIT_DOMAIN and "not waiting for approval" in r.stderr
    assert fund.recorded(REF) == []


def test_approve__wrong_passphrase__refused_never_echoed(fund):
    wrong = "tr0ub4dor&3-wrong"
    r = keeper(
        {**fund.env, "APE_ACCOUNTS_alice_PASSPHRASE": wrong}, "approve", REF, "--account", "alice"
    )
    assert r.exit_code == EXIT_DOMAIN and "wrong passphrase for ape account 'alice'" in r.stderr
    assert wrong not in r.stdout + r.stderr
    assert fund.recorded(REF) == []


def test_approve__no_passphrase_not_a_terminal__exit_2_names_the_variable(fund):
    r = keeper(
        {**fund.env, "APE_ACCOUNTS_bob_PASSPHRASE": None}, "approve", REF, "--account", "bob"
    )
    assert r.exit_code == EXIT_CONFIG, r.stderr
    assert "APE_ACCOUNTS_bob_PASSPHRASE" in r.stderr and fund.recorded(REF) == []


def test_approve__signature_made_elsewhere__verified_and_recorded(fund):
    sig = sign_plan(frozen_plan(REF), account_key("carol"))
    r = keeper(fund.env, "--json", "approve", REF, "--signature", "0x" + sig.hex())
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["signer"] == OWNERS[2]
    assert fund.recorded(REF) == [(OWNERS[2], "0x" + sig.hex())]


def test_approve__signature_with_v_0_or_1__recorded_as_27_28_the_form_the_executor_counts(fund):
    sig = sign_plan(frozen_plan(REF), account_key("carol"))
    raw = sig[:64] + bytes([sig[64] - 27])
    r = keeper(fund.env, "--json", "approve", REF, "--signature", "0x" + raw.hex())
    assert r.exit_code == 0, r.stderr
    assert fund.recorded(REF) == [(OWNERS[2], "0x" + sig.hex())]


def _signatures(fund: Fund) -> dict[str, str]:
    """Signatures an attacker might replay or forge, each refused for plan REF."""
    fund.add_plan("plan-other")  # a second plan waiting, signed by alice
    alice = account_key("alice")
    mine = sign_plan(frozen_plan(REF), alice)
    return {
        "other_plan": sign_plan(frozen_plan("plan-other"), alice),
        "other_chain": sign_plan(replace(frozen_plan(REF), chain_id=56), alice),
        "other_executor": sign_plan(frozen_plan(REF, executor="0x" + "ee" * 20), alice),
        "other_deadline": sign_plan(replace(frozen_plan(REF), deadline=NOW + 7 * HOUR), alice),
        "mallory": sign_plan(frozen_plan(REF), account_key("mallory")),
        "short": mine[:64],
        "zeros": b"\x00" * 65,
        # the malleable twin of alice's own valid signature: the executor does not count it
        "high_s": mine[:32]
        + (SECP256K1_N - int.from_bytes(mine[32:64], "big")).to_bytes(32, "big")
        + bytes([55 - mine[64]]),
    }


@pytest.mark.parametrize(
    "case",
    [
        "other_plan",
        "other_chain",
        "other_executor",
        "other_deadline",
        "mallory",
        "short",
        "zeros",
        "high_s",
    ],
)
def test_approve__forged_or_replayed_signature__refused(fund, case):
    sig = _signatures(fund)[case]
    r = keeper(fund.env, "approve", REF, "--signature", "0x" + sig.hex())
    assert r.exit_code == EXIT_DOMAIN, r.stdout
    assert ("not an admin of plan" in r.stderr) or ("not counted by the executor" in r.stderr), (
        r.stderr
    )
    assert fund.recorded(REF) == []
    r = keeper(fund.env, "approve", REF, "--signature", "0xnothex")
    assert r.exit_code == EXIT_DOMAIN and "malformed signature" in r.stderr


def test_approve__replay_from_a_plan_alice_approved__refused(fund):
    """alice's recorded approval of another plan, copied from the store, does not approve
    this one (it recovers to an unrelated address)."""
    fund.add_plan("plan-other")
    assert keeper(fund.env, "approve", "plan-other", "--account", "alice").exit_code == 0
    stolen = fund.plans.approvals("plan-other")[0].signature
    r = keeper(fund.env, "approve", REF, "--signature", stolen)
    assert r.exit_code == EXIT_DOMAIN and "not an admin of plan" in r.stderr
    assert fund.recorded(REF) == []


def test_review_typed_data__signed_by_eth_account_elsewhere__accepted(fund):
    r = keeper(fund.env, "review", REF, "--typed-data")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc == typed_data_json(frozen_plan(REF))
    assert doc["message"]["actions"][0].startswith("0x5a3b74b9")
    # a wallet elsewhere signs the printed JSON, not our objects
    signed = Account.sign_message(encode_typed_data(full_message=doc), account_key("bob"))
    assert bytes(signed.message_hash) == plan_hash(frozen_plan(REF))
    r = keeper(fund.env, "approve", REF, "--signature", signed.signature.to_0x_hex())
    assert r.exit_code == 0 and f"signed by {OWNERS[1]}" in r.stdout, r.stderr


def test_review_typed_data__signed_by_ape_keyfile_account__accepted(fund, monkeypatch):
    """ape's own KeyfileAccount reads the keystore the dev helper wrote and signs the printed
    typed data (as a hardware wallet through ape would): its signature is accepted."""
    from ape_accounts.accounts import KeyfileAccount

    doc = json.loads(keeper(fund.env, "review", REF, "--typed-data").stdout)
    account = KeyfileAccount(keyfile_path=fund.ape / "accounts" / "carol.json")
    account.set_autosign(True, passphrase=PASSPHRASE)
    try:
        sig = account.sign_message(encode_typed_data(full_message=doc))
    finally:
        account.set_autosign(False)
    packed = pack_signature(sig.v, sig.r, sig.s)
    r = keeper(fund.env, "approve", REF, "--signature", "0x" + packed.hex())
    assert r.exit_code == 0 and f"signed by {OWNERS[2]}" in r.stdout, r.stderr


def test_review__plan_edited_after_signing__signatures_no_longer_count(fund):
    for who in ("alice", "bob"):
        assert keeper(fund.env, "approve", REF, "--account", who).exit_code == 0
    row = fund.plans.get(REF)
    frozen = dict(row.payload["frozen"])
    # one byte of the second action changed in the database (an amount, say)
    frozen["actions"] = [frozen["actions"][0], frozen["actions"][1][:-2] + "03"]
    fund.plans.update(REF, frozen=frozen)
    r = keeper(fund.env, "--json", "review", REF, at=NOW + 120)
    view = json.loads(r.stdout)
    now_hash = view["signatures"]["plan_hash"]
    assert now_hash != "0x" + plan_hash(frozen_plan(REF)).hex()
    assert view["signatures"]["counted"] == 0
    for a, owner in zip(view["approvals"], OWNERS, strict=False):
        assert a["signer"] == owner and not a["counts"]  # who signed is still shown
        assert "the plan changed after this signature" in a["reason"] and now_hash in a["reason"]
    edited = SignedPlan.from_frozen(frozen)
    assert count_approvals(edited, [s for _, s in fund.recorded(REF)], OWNERS, NOW).count == 0
    text = keeper(fund.env, "review", REF, at=NOW + 120).stdout
    assert "0 of 2 counted" in text and "does not count: signed plan hash" in text
    # carol signs the plan as it is now: that one counts
    assert keeper(fund.env, "approve", REF, "--account", "carol").exit_code == 0
    view = json.loads(keeper(fund.env, "--json", "review", REF, at=NOW + 130).stdout)
    assert view["signatures"]["counted"] == 1 and view["approvals"][2]["counts"]


def test_review__after_the_deadline__nothing_counts(fund):
    for who in ("alice", "bob"):
        assert keeper(fund.env, "approve", REF, "--account", who).exit_code == 0
    view = json.loads(keeper(fund.env, "--json", "review", REF, at=NOW + 4 * HOUR + 1).stdout)
    assert view["signatures"]["counted"] == 0
    assert all("expired" in a["reason"] for a in view["approvals"])


def test_approve_and_review__two_deadlines__two_names(fund):
    """`keeper approve` showed the executor's deadline (signed in the plan: the plan cannot
    run after it) and `keeper review` the approval deadline (approvals after it do not
    count), both as "deadline". Each now has its own name in both commands."""
    import re

    approval, executor = "2027-01-15 12:00:00 UTC", "2027-01-15 14:00:00 UTC"
    assert dt.datetime.fromtimestamp(NOW + 4 * HOUR, dt.UTC).strftime("%Y-%m-%d %H:%M") in approval
    r = keeper(fund.env, "approve", REF, "--account", "alice")
    assert r.exit_code == 0, r.stderr
    assert f"executor deadline {executor}" in r.stdout
    out = json.loads(keeper(fund.env, "--json", "approve", REF, "--account", "bob").stdout)
    assert out["signed"]["executor_deadline"] == NOW + 6 * HOUR and "deadline" not in out["signed"]
    text = keeper(fund.env, "review", REF).stdout + keeper(fund.env, "review").stdout
    assert f"approval deadline {approval}" in text and f"executor deadline {executor}" in text
    # "deadline" never stands alone: always the approval's or the executor's
    assert not re.search(r"(?<!approval )(?<!executor )\bdeadline\b", text), text
    view = json.loads(keeper(fund.env, "--json", "review", REF).stdout)["signatures"]
    assert (view["approval_deadline"], view["executor_deadline"]) == (
        NOW + 4 * HOUR,
        NOW + 6 * HOUR,
    )
    assert "deadline" not in view


def test_plan_without_executor__by_name_as_before__account_refused(fund):
    ref = fund.add_plan("plan-noexec", frozen=False, admins=["alice", "bob", "carol"])
    r = keeper(fund.env, "approve", ref, "--account", "alice")
    assert r.exit_code == EXIT_DOMAIN and "approve it with --by NAME" in r.stderr
    r = keeper(fund.env, "review", ref, "--typed-data")
    assert r.exit_code == EXIT_DOMAIN and "no frozen plan" in r.stderr
    r = keeper(fund.env, "approve", ref, "--by", "alice")
    assert r.exit_code == 0 and fund.recorded(ref) == [("alice", "")]
    view = json.loads(keeper(fund.env, "--json", "review", ref).stdout)
    assert view["signatures"]["counted"] == 1 and not view["signatures"]["signed_plan"]
    r = keeper(fund.env, "approve", ref, "--by", "alice", "--account", "alice")
    assert r.exit_code == 2 and "exactly one of" in r.stderr


def test_reject__stays_by_name__an_owner_address(fund):
    r = keeper(fund.env, "reject", REF, "--by", OWNERS[1], "--note", "too big")
    assert r.exit_code == 0, r.stderr
    view = json.loads(keeper(fund.env, "--json", "review", REF).stdout)
    assert view["approvals"][0]["decision"] == "reject" and not view["approvals"][0]["counts"]
    r = keeper(fund.env, "reject", REF, "--by", "mallory")
    assert r.exit_code == EXIT_DOMAIN and "not an admin" in r.stderr


def _run_in_terminal(env: dict[str, str], args: list[str], typed: str) -> tuple[int, str]:
    """`keeper ARGS` with a pseudo-terminal as stdin/stdout/stderr (an approver at a shell):
    waits for the passphrase prompt, types `typed`, returns the exit status and all it showed."""
    import os
    import pty
    import select
    import subprocess
    import sys
    import termios
    import time

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "keepers.cli", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, **env, "PYTHONPATH": str(Path.cwd())},
        close_fds=True,
    )
    os.close(slave)
    seen, sent, end = b"", False, time.monotonic() + 60
    while time.monotonic() < end:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        # type once the prompt is shown and the terminal stopped echoing (getpass turns echo
        # off after click prints the prompt, flushing what was typed before: a person is slower)
        if (
            not sent
            and b"passphrase of ape account" in seen
            and not termios.tcgetattr(master)[3] & termios.ECHO
        ):
            os.write(master, typed.encode() + b"\n")
            sent = True
        if proc.poll() is not None and not ready:
            break
    os.close(master)
    return proc.wait(timeout=30), seen.decode(errors="replace")


def test_approve__in_a_terminal__hidden_prompt__passphrase_never_shown(fund):
    env = {k: v for k, v in fund.env.items() if not k.startswith("APE_ACCOUNTS_")}
    code, shown = _run_in_terminal(
        env, ["--now", str(NOW + 60), "approve", REF, "--account", "alice"], PASSPHRASE
    )
    assert code == 0, shown
    assert "passphrase of ape account 'alice'" in shown
    assert f"signed by {OWNERS[0]} recorded (1 of 2)" in shown
    assert_no_secret(shown)  # the terminal did not echo what was typed
    assert [a for a, _ in fund.recorded(REF)] == [OWNERS[0]]


def test_review__decided_plan__counted_as_of_the_last_approval_not_now(fund):
    for who, at in (("alice", NOW + 60), ("bob", NOW + 120)):
        assert keeper(fund.env, "approve", REF, "--account", who, at=at).exit_code == 0
    fund.plans.update(REF, APPROVED)  # the keeper moved it on; a day later someone reviews it
    view = json.loads(keeper(fund.env, "--json", "review", REF, at=NOW + 24 * HOUR).stdout)
    assert view["signatures"]["as_of"] == NOW + 120 and view["signatures"]["counted"] == 2


def test_frozen_document_damaged__approve_refused__review_says_why(fund):
    assert keeper(fund.env, "approve", REF, "--account", "alice").exit_code == 0
    frozen = {k: v for k, v in fund.plans.get(REF).payload["frozen"].items() if k != "deadline"}
    fund.plans.update(REF, frozen=frozen)
    r = keeper(fund.env, "approve", REF, "--account", "alice")
    assert r.exit_code == EXIT_DOMAIN and "frozen document is unusable" in r.stderr, r.stderr
    assert "lacks deadline" in r.stderr and len(fund.recorded(REF)) == 1
    r = keeper(fund.env, "review", REF, "--typed-data")
    assert r.exit_code == EXIT_DOMAIN and "lacks deadline" in r.stderr
    view = json.loads(keeper(fund.env, "--json", "review", REF).stdout)
    assert "lacks deadline" in view["signatures"]["frozen_error"]
    assert view["signatures"]["counted"] == 0 and not view["approvals"][0]["counts"]


# ------------------------------------------------------------ an owner's key in AWS KMS


@pytest.fixture(scope="module")
def kms(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from ballast_dev.local.kms_local import start_kms

    stand_in = start_kms(tmp_path_factory.mktemp("kms"))
    yield stand_in
    stand_in.stop()


def test_approve__aws_kms_owner__eip712_signed_in_kms_recorded_and_counted(fund, kms):
    """An owner whose key is in KMS approves with `--aws-kms KEY`: the plan's EIP-712 digest
    is signed in KMS (DIGEST), normalised to low s with its recovery id found, recorded by the
    recovered address and counted by the executor's rule; a key of the wrong spec is refused
    with exit 2 naming the option, nothing recorded."""
    from ballast_dev.local.kms_local import CREDENTIALS
    from keepers.core.settings import env_secrets
    from keepers.tx.kms import address_from_spki

    key = kms.create_key()
    owner = address_from_spki(kms.client().get_public_key(KeyId=key)["PublicKey"])
    kms.client().create_alias(AliasName="alias/owner-dora", TargetKeyId=key)
    ref = fund.add_plan("plan-5c0ffee1", admins=[owner, OWNERS[1], OWNERS[2]])
    env = {
        **fund.env,
        **CREDENTIALS,
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_KMS": kms.endpoint,
    }
    wrong = kms.create_key(spec="ECC_NIST_P256")
    r = keeper(env, "approve", ref, "--aws-kms", wrong)
    assert r.exit_code == EXIT_CONFIG, r.stderr
    assert "--aws-kms" in r.stderr and "ECC_NIST_P256" in r.stderr
    assert fund.recorded(ref) == []
    r = keeper(env, "--json", "approve", ref, "--aws-kms", "alias/owner-dora")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["signer"] == owner and out["approvals"] == 1
    (rec,) = fund.plans.approvals(ref)
    assert rec.admin == owner and rec.note == f"aws-kms {owner}"
    sig = bytes.fromhex(rec.signature.removeprefix("0x"))
    assert int.from_bytes(sig[32:64], "big") <= SECP256K1_N // 2 and sig[64] in (27, 28)
    got = count_approvals(frozen_plan(ref), [rec.signature], [owner], NOW + 120)
    assert got.approvers == (owner,)
    for secret in env_secrets(env):
        assert secret not in r.stdout + r.stderr
