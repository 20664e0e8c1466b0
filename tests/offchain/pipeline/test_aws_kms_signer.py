"""The aws-kms signer (keepers.tx.kms) against a KMS stand-in that answers as AWS KMS does
(LocalStack's KMS on loopback, ballast_dev/local/kms_local.py): the address from GetPublicKey's
DER, Sign with MessageType=DIGEST, low-s normalisation, the recovery id found by recovery, every
signature checked with eth-account's own recovery; the pipeline sending with the KMS key; every
KMS error a clear error naming the setting, nothing sent, no credential printed."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
from coincurve import PrivateKey
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_defunct
from eth_account.typed_transactions import TypedTransaction
from hexbytes import HexBytes

from ballast_dev.local.kms_local import CREDENTIALS, KmsStandIn, start_kms, throttle
from keepers.core.errors import ConfigError
from keepers.core.settings import KeeperSettings, env_secrets
from keepers.core.signatures import HALF_N, SECP256K1_N, try_recover
from keepers.fund.planning.plan_approval import signable
from keepers.store.models import TxIntent, utcnow
from keepers.tx.kms import (
    AwsKmsSigner,
    KmsSignatureRefused,
    KmsUnavailable,
    address_from_spki,
    decode_der_signature,
    normalise_and_recover,
)
from keepers.tx.signers import RawKeySigner, signer_from_settings
from keepers.tx.txcodec import decode_1559, keccak256
from tests.support.keeper_fork import keeper_run
from tests.support.keeper_proc import keeper_exe
from tests.support.pipeline_anvil import ROOT
from tests.support.pipeline_helpers import hit_spec, make_pipeline, make_settings
from tests.support.signed_plans import frozen_plan

# AWS's documented example credentials, distinctive enough to be searched for in any output
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKENvalue0123456789"


@pytest.fixture(scope="module")
def kms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KmsStandIn]:
    stand_in = start_kms(tmp_path_factory.mktemp("kms"))
    with pytest.MonkeyPatch.context() as mp:
        for k, v in CREDENTIALS.items():
            mp.setenv(k, v)
        mp.delenv("AWS_PROFILE", raising=False)
        yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def key_id(kms: KmsStandIn) -> str:
    return kms.create_key()


def _signer(kms: KmsStandIn, key: str, **kw: Any) -> AwsKmsSigner:
    kw.setdefault("region", "us-east-1")
    kw.setdefault("backoff_s", 0.01)
    return AwsKmsSigner(key, endpoint_url=kms.endpoint, **kw)


# ----------------------------------------------------------------------------- pure parts


def _spki(curve: Any) -> tuple[bytes, Any]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    priv = ec.generate_private_key(curve)
    der = priv.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der, priv


def test_address_from_spki__secp256k1_der__eth_account_address():
    from cryptography.hazmat.primitives.asymmetric import ec

    for _ in range(20):
        der, priv = _spki(ec.SECP256K1())
        key = priv.private_numbers().private_value.to_bytes(32, "big")
        assert address_from_spki(der) == Account.from_key(key).address


def test_address_from_spki__p256_or_truncated__refused_naming_curve():
    from cryptography.hazmat.primitives.asymmetric import ec

    der, _ = _spki(ec.SECP256R1())
    with pytest.raises(ValueError, match="P-256"):
        address_from_spki(der)
    der, _ = _spki(ec.SECP256K1())
    for bad in (der[:-1], der + b"\x00", der[:20]):
        with pytest.raises(ValueError):
            address_from_spki(bad)


def test_decode_der_signature__strict():
    def der(r: bytes, s: bytes) -> bytes:
        body = b"\x02" + bytes([len(r)]) + r + b"\x02" + bytes([len(s)]) + s
        return b"\x30" + bytes([len(body)]) + body

    assert decode_der_signature(der(b"\x01", b"\x00\x80")) == (1, 128)
    for bad in (
        der(b"\x80", b"\x01"),  # negative r
        der(b"\x00\x01", b"\x01"),  # non-minimal r
        der(b"\x00", b"\x01"),  # r = 0
        der(b"\x01", SECP256K1_N.to_bytes(33, "big")),  # s = n
        der(b"\x01", b"\x01") + b"\x00",  # trailing byte
    ):
        with pytest.raises(ValueError):
            decode_der_signature(bad)


def test_normalise_and_recover__high_s_twin__low_s_and_flipped_parity():
    key = PrivateKey()
    address = Account.from_key(key.secret).address
    for i in range(50):
        digest = keccak256(i.to_bytes(4, "big"))
        sig = key.sign_recoverable(digest, hasher=None)
        r, s, v = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]
        assert normalise_and_recover(digest, r, SECP256K1_N - s, address) == (v, r, s)
        assert normalise_and_recover(digest, r, s, address) == (v, r, s)
    with pytest.raises(KmsSignatureRefused, match="does not recover"):
        normalise_and_recover(digest, r, s, Account.create().address)


# ---------------------------------------------------------------------- on the stand-in


def _sign_and_check(signer: AwsKmsSigner, n: int, seed: int = 7) -> dict[str, Any]:
    """n signatures of three kinds (EIP-1559 transactions, EIP-191 messages, EIP-712 typed
    data), each checked with eth-account's own recovery (and low s, v 27/28 for messages)."""
    rng = random.Random(seed)
    invalid: list[str] = []
    high_before = signer.high_s
    t0 = time.perf_counter()
    for i in range(n):
        kind = i % 3
        if kind == 0:
            tx = {
                "type": 2,
                "chainId": rng.choice([1, 56, 31337]),
                "nonce": rng.randrange(2**32),
                "to": "0x" + rng.randbytes(20).hex(),
                "value": rng.randrange(2**80),
                "data": "0x" + rng.randbytes(rng.randrange(0, 100)).hex(),
                "gas": rng.randrange(21_000, 2**24),
                "maxFeePerGas": rng.randrange(1, 2**50),
                "maxPriorityFeePerGas": rng.randrange(0, 2**30),
            }
            raw = signer.sign_transaction(tx)
            fields, sender = decode_1559(raw)
            s = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()["s"]
            ok = (
                Account.recover_transaction(raw) == signer.address
                and sender == signer.address.lower()
                and fields["nonce"] == tx["nonce"]
                and int(s) <= HALF_N  # EIP-2: a node refuses a high-s transaction
            )
        else:
            if kind == 1:
                msg = encode_defunct(rng.randbytes(rng.randrange(1, 200)))
            else:  # the plan message `keeper approve` has a KMS-held owner key sign
                plan = frozen_plan(f"kms-{rng.randrange(2**64)}", rng.choice([1, 56, 31337]))
                msg = signable(plan)
            sig = signer.sign_message(msg)
            ok = (
                len(sig) == 65
                and Account.recover_message(msg, signature=sig) == signer.address
                # the contracts' rule (OpenZeppelin ECDSA.tryRecover: low s, v 27/28)
                and try_recover(bytes(_hash_eip191_message(msg)), sig).signer == signer.address
            )
        if not ok:
            invalid.append(f"#{i} kind {kind}")
    elapsed = time.perf_counter() - t0
    return {
        "checked": n,
        "invalid": invalid,
        "high_s": signer.high_s - high_before,
        "seconds": elapsed,
    }


def _raw_key_seconds(n: int) -> float:
    raw = RawKeySigner(PrivateKey().secret)
    rng = random.Random(1)
    t0 = time.perf_counter()
    for i in range(n):
        raw.sign_transaction(
            {
                "type": 2,
                "chainId": 1,
                "nonce": i,
                "to": "0x" + rng.randbytes(20).hex(),
                "value": 0,
                "data": "0x",
                "gas": 100_000,
                "maxFeePerGas": 10**10,
                "maxPriorityFeePerGas": 10**9,
            }
        )
    return time.perf_counter() - t0


def _signatures_run(kms: KmsStandIn, key_id: str, n: int) -> None:
    signer = _signer(kms, key_id)
    result = _sign_and_check(signer, n)
    raw_s = _raw_key_seconds(n)
    share = result["high_s"] / n
    print(
        f"\nKMS SIGNATURES: {n} checked with eth-account's recovery, "
        f"{len(result['invalid'])} invalid; KMS answered high s in {result['high_s']} "
        f"({share:.1%}), normalised; {result['seconds'] / n * 1000:.2f} ms per signature "
        f"through the stand-in against {raw_s / n * 1000:.3f} ms with the raw key "
        f"({result['seconds'] / raw_s:.0f}x)"
    )
    assert result["invalid"] == []
    # KMS does not normalise: about half its answers are high s, and each was turned low
    assert 0.4 * n < result["high_s"] < 0.6 * n


def test_kms_signer__500_signatures__all_recover_high_s_included(kms, key_id):
    _signatures_run(kms, key_id, 500)


@pytest.mark.slow
def test_kms_signer__10000_signatures__all_recover_high_s_included(kms, key_id):
    _signatures_run(kms, key_id, 10_000)


def test_kms_signer__address_logged_and_from_settings(kms, key_id, monkeypatch):
    settings = KeeperSettings(
        signer_kind="aws-kms",
        signer_kms_key_id=key_id,
        signer_kms_region="us-east-1",
        signer_kms_endpoint_url=kms.endpoint,
    )
    signer = signer_from_settings(settings)
    assert isinstance(signer, AwsKmsSigner)
    pub = kms.client().get_public_key(KeyId=key_id)["PublicKey"]
    assert signer.address == address_from_spki(pub)
    # an alias names the same key
    kms.client().create_alias(AliasName="alias/keeper-settings", TargetKeyId=key_id)
    assert _signer(kms, "alias/keeper-settings").address == signer.address
    # KEEPER_SIGNER_ADDRESS pins the address: another key refuses to start
    with pytest.raises(ConfigError, match="KEEPER_SIGNER_ADDRESS"):
        _signer(kms, kms.create_key(), expected_address=signer.address)


def test_kms_signer__aws_kms_without_key_id__config_error_names_variable():
    from keepers.core.settings import load_settings

    with pytest.raises(ConfigError, match="KEEPER_SIGNER_KMS_KEY_ID"):
        load_settings(env={"KEEPER_SIGNER_KIND": "aws-kms"})


@pytest.mark.parametrize("spec", ["ECC_NIST_P256", "RSA_2048"])
def test_kms_signer__wrong_key_spec__refused_at_startup_naming_setting(kms, spec):
    other = kms.create_key(spec=spec)
    with pytest.raises(ConfigError) as err:
        _signer(kms, other)
    text = str(err.value)
    assert "KEEPER_SIGNER_KMS_KEY_ID" in text and spec in text and "ECC_SECG_P256K1" in text


def test_kms_signer__wrong_region_or_unknown_alias__not_found_naming_setting(kms, key_id):
    with pytest.raises(ConfigError) as err:
        _signer(kms, key_id, region="eu-west-1")
    text = str(err.value)
    assert "NotFoundException" in text and "KEEPER_SIGNER_KMS_REGION" in text
    assert "eu-west-1" in text
    with pytest.raises(ConfigError, match="NotFoundException.*KEEPER_SIGNER_KMS_KEY_ID"):
        _signer(kms, "alias/no-such-key")


def test_kms_signer__disabled_key__refused_at_startup_and_while_signing(kms):
    key = kms.create_key()
    signer = _signer(kms, key, max_attempts=2)
    kms.client().disable_key(KeyId=key)
    with pytest.raises(KmsUnavailable, match="DisabledException.*KEEPER_SIGNER_KMS_KEY_ID"):
        signer.sign_hash(keccak256(b"x"))
    assert signer.retries == 0  # a disabled key is not retried
    with pytest.raises(ConfigError, match="DisabledException"):
        _signer(kms, key)
    kms.client().enable_key(KeyId=key)
    assert len(signer.sign_hash(keccak256(b"x"))) == 65


def test_kms_signer__throttled__retried_with_backoff_then_clear_error(kms, key_id):
    signer = _signer(kms, key_id, max_attempts=3)
    waits: list[float] = []
    signer._sleep = waits.append
    throttled = throttle(signer._client, 2)
    sig = signer.sign_hash(keccak256(b"through"))
    assert len(throttled) == 2 and signer.retries == 2 and waits == [0.01, 0.02]
    assert try_recover(keccak256(b"through"), sig).signer == signer.address
    throttled = throttle(signer._client, 3)
    with pytest.raises(KmsUnavailable) as err:
        signer.sign_hash(keccak256(b"never"))
    assert len(throttled) == 3
    assert "failed 3 times (ThrottlingException: Rate exceeded)" in str(err.value)
    assert "KEEPER_SIGNER_KMS_KEY_ID" in str(err.value)
    # at start-up: exit 2 with the same words
    from keepers.tx.kms import kms_client

    client = kms_client("us-east-1", kms.endpoint, 5.0)
    throttle(client, 2, "GetPublicKey")
    with pytest.raises(ConfigError, match="GetPublicKey failed 2 times"):
        AwsKmsSigner(key_id, client=client, max_attempts=2, sleep=lambda s: None)


def _pipeline_with(tmp_path, anvil, counter, signer, name):
    settings = make_settings(
        f"sqlite:///{tmp_path}/{name}.db", anvil.url, counter.address, retry_backoff_s=0.01
    )
    return make_pipeline(settings, signer=signer)


def _fund(anvil, address: str) -> None:
    anvil.rpc("anvil_setBalance", address, hex(10**20))


def test_kms_signer__pipeline__intent_signed_by_kms_validated_and_confirmed(
    tmp_path, kms, key_id, anvil, counter
):
    signer = _signer(kms, key_id)
    _fund(anvil, signer.address)
    pipe = _pipeline_with(tmp_path, anvil, counter, signer, "ok")
    intent = pipe.submit(hit_spec(counter, 7101, sender=signer.address))
    pipe.run(until_idle=True, max_seconds=30)
    with pipe.store.sessions() as s:
        assert s.get(TxIntent, intent.id).status == "confirmed"
    pipe.store.close()
    assert counter.functions.hits(7101).call() == 1
    assert anvil.w3.eth.get_transaction_count(signer.address) >= 1


def test_kms_signer__alias_repointed_or_key_disabled__nothing_sent(tmp_path, kms, anvil, counter):
    """The attacker (or a mistaken operator) points the keeper's alias at another key after
    start-up: every signature recovers to that key, is refused and never sent; a disabled
    key leaves the intent unsigned. Both go on once the key is back."""
    key = kms.create_key()
    kms.client().create_alias(AliasName="alias/keeper-pipeline", TargetKeyId=key)
    signer = _signer(kms, "alias/keeper-pipeline", max_attempts=1)
    _fund(anvil, signer.address)
    pipe = _pipeline_with(tmp_path, anvil, counter, signer, "refused")
    nonce0 = anvil.w3.eth.get_transaction_count(signer.address)
    other = kms.create_key()
    kms.client().update_alias(AliasName="alias/keeper-pipeline", TargetKeyId=other)
    intent = pipe.submit(hit_spec(counter, 7102, sender=signer.address))

    def unsigned_with(error: str) -> None:
        pipe.run_once()
        with pipe.store.transaction() as s:
            row = s.get(TxIntent, intent.id)
            assert row.status not in ("signed", "validated", "broadcast", "confirmed")
            assert not row.attempts
            assert error in (row.error or ""), row.error
            row.next_try_at = utcnow()  # the next pass tries again at once

    unsigned_with("KmsSignatureRefused")
    kms.client().update_alias(AliasName="alias/keeper-pipeline", TargetKeyId=key)
    kms.client().disable_key(KeyId=key)
    unsigned_with("DisabledException")
    assert anvil.w3.eth.get_transaction_count(signer.address) == nonce0
    assert counter.functions.hits(7102).call() == 0
    kms.client().enable_key(KeyId=key)
    pipe.run(until_idle=True, max_seconds=30)
    with pipe.store.sessions() as s:
        assert s.get(TxIntent, intent.id).status == "confirmed"
    pipe.store.close()
    assert counter.functions.hits(7102).call() == 1


def test_aws_credentials__redacted_everywhere():
    env = {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_SESSION_TOKEN": SESSION_TOKEN,
    }
    assert {ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN} <= env_secrets(env)


def test_keeper_cli__kms_errors__exit_2_naming_setting_no_credential_printed(kms, tmp_path):
    """`keeper run` with the credentials in the environment and a key of the wrong spec, an
    unknown alias, a wrong region: exit 2, the setting named, no credential anywhere (each a
    keeper process forked by tests/support/keeper_fork.py's ``keeper_run``; the console script
    itself: test_keeper_run_stop.py)."""
    p256 = kms.create_key(spec="ECC_NIST_P256")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KEEPER_", "AWS_"))}
    base.update(
        AWS_ACCESS_KEY_ID=ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY,
        AWS_SESSION_TOKEN=SESSION_TOKEN,
        KEEPER_SIGNER_KIND="aws-kms",
        KEEPER_SIGNER_KMS_ENDPOINT_URL=kms.endpoint,
        KEEPER_SIGNER_KMS_REGION="us-east-1",
        KEEPER_SIGNER_KMS_MAX_ATTEMPTS="1",
        KEEPER_DB_URL=f"sqlite:///{tmp_path}/k.db",
        KEEPER_RPC_URL="http://127.0.0.1:9",
    )
    for key_id, region, words in (
        (p256, "us-east-1", "ECC_NIST_P256"),
        ("alias/nope", "us-east-1", "NotFoundException"),
        (p256, "ap-south-1", "NotFoundException"),
    ):
        env = {**base, "KEEPER_SIGNER_KMS_KEY_ID": key_id, "KEEPER_SIGNER_KMS_REGION": region}
        # forked from the keeper server (the same keepers.cli:main in a process of its own;
        # about a second of imports saved per refusal): `keeper run` as the installed console
        # script is tests/offchain/cli/test_keeper_run_stop.py's
        proc = keeper_run(
            [keeper_exe(), "run", "--once", "--bots", "executor"], env=env, cwd=ROOT, timeout=120
        )
        out = proc.stdout + proc.stderr
        assert proc.returncode == 2, out
        assert "KEEPER_SIGNER_KMS_KEY_ID" in out and words in out, out
        for secret in (ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN):
            assert secret not in out


def test_kms_signer__debug_logging__no_credential_or_token_in_the_log(kms, key_id, capfd):
    """KEEPER_LOG_LEVEL=DEBUG: botocore would log each request's headers (the access key id in
    Authorization, the session token of an instance role, which no variable holds)."""
    from keepers.core.logging import configure_logging

    configure_logging(True, "DEBUG")
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
            mp.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
            signer = _signer(kms, key_id)
            signer.sign_hash(keccak256(b"debug"))
        out = capfd.readouterr()
        text = out.out + out.err
        assert signer.address in text  # the start-up line: signer.aws_kms with the address
        for secret in (ACCESS_KEY_ID, SESSION_TOKEN, "X-Amz-Security-Token", "Authorization"):
            assert secret not in text
    finally:
        configure_logging(True, "WARNING")


def test_kms_signer__no_region_anywhere__config_error_names_region_setting(monkeypatch, tmp_path):
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(ConfigError, match="KEEPER_SIGNER_KMS_REGION: no AWS region"):
        AwsKmsSigner("alias/keeper", endpoint_url="http://127.0.0.1:9")
