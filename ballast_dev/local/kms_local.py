"""LOCAL ONLY: AWS KMS stand-in for the aws-kms signer's tests: LocalStack's community core
(PyPI ``localstack-core``, its own venv ``.venv-kms``, scripts/toolchain/kms_venv.sh) started
on a free loopback port with KMS alone.

It is AWS's KMS API as LocalStack implements it: CreateKey with ``ECC_SECG_P256K1``,
GetPublicKey's DER SubjectPublicKeyInfo, Sign with ``MessageType=DIGEST`` and
``ECDSA_SHA_256`` (the digest signed as it is, a DER signature with s anywhere in [1, n-1]),
DisableKey (``DisabledException``), aliases, regions (a key of one region is
``NotFoundException`` in another) and AWS's JSON error shapes, parsed by the real botocore.
Where it differs from AWS, and what the tests do about it:

- it never throttles (AWS answers ``ThrottlingException`` past the account's request rate):
  the tests inject AWS's answer (HTTP 400, that error type and body) at botocore's HTTP layer,
  `throttle`, so botocore parses it as it parses AWS's;
- it checks no IAM (any credentials are accepted): ``AccessDeniedException`` is not exercised;
- ``GetPublicKey`` answers for a disabled key (AWS answers ``DisabledException``): the signer's
  start-up ``Sign`` check refuses a disabled key either way (``Sign`` answers
  ``DisabledException`` here as on AWS).

The caller owns the process: ``KmsStandIn.stop()`` ends it (the fixtures do)."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ballast_dev.local.anvil_local import ROOT, free_port

VENV = ROOT / ".venv-kms"
# LocalStack accepts any credentials; these are the conventional dummy ones (never real)
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


@dataclass
class KmsStandIn:
    proc: subprocess.Popen[bytes]
    endpoint: str
    log_path: Path
    clients: dict[str, Any] = field(default_factory=dict)

    def client(self, region: str = "us-east-1") -> Any:
        """A boto3 KMS client on the stand-in (the tests' admin: creates and disables keys)."""
        if region not in self.clients:
            import boto3

            self.clients[region] = boto3.session.Session().client(
                "kms",
                region_name=region,
                endpoint_url=self.endpoint,
                aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            )
        return self.clients[region]

    def create_key(
        self, spec: str = "ECC_SECG_P256K1", usage: str = "SIGN_VERIFY", region: str = "us-east-1"
    ) -> str:
        meta = self.client(region).create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]
        return str(meta["KeyId"])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                # its shutdown waits on the gateway's workers for about 15 s; nothing of its
                # state is kept, so a stand-in still up after 3 s is killed
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def start_kms(tmp: Path, seconds: float = 90) -> KmsStandIn:
    """Start the stand-in under `tmp` (its files and log) on a free loopback port; returns once
    it answers its health check with KMS available."""
    python = VENV / "bin" / "python"
    if not python.exists():
        raise RuntimeError(
            f"the KMS stand-in's venv is missing ({VENV}): run `bash scripts/toolchain/kms_venv.sh`"
            " (make test does)"
        )
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    tmp.mkdir(parents=True, exist_ok=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KEEPER_"))},
        "GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "LOCALSTACK_HOST": f"127.0.0.1:{port}",
        "GATEWAY_SERVER": "hypercorn",  # twisted's TLS needs service_identity, not installed
        "SERVICES": "kms",
        "DNS_ADDRESS": "0",  # no DNS server of its own
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "DISABLE_EVENTS": "1",  # no analytics
        "VOLUME_DIR": str(tmp / "volume"),
        "FILESYSTEM_ROOT": str(tmp / "fs"),
        "TMPDIR": str(tmp),
    }
    log_path = tmp / "localstack.log"
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            [str(python), "-m", "localstack.runtime.main"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(tmp),
        )
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the KMS stand-in exited ({log_path}):\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{endpoint}/_localstack/health", timeout=2) as resp:
                health = json.loads(resp.read())
            if health.get("services", {}).get("kms") in ("available", "running"):
                return KmsStandIn(proc, endpoint, log_path)
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"the KMS stand-in did not answer in {seconds} s ({log_path})")


def throttle(client: Any, times: int, operation: str = "Sign") -> list[int]:
    """Make `client`'s next `times` calls of `operation` come back as AWS answers past the
    request quota (HTTP 400, ``ThrottlingException``, ``Rate exceeded``), before they reach
    the stand-in: botocore parses the answer as it parses AWS's. Returns a list that counts
    the calls answered so (one element per throttled call)."""
    from botocore.awsrequest import AWSResponse

    answered: list[int] = []
    body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()

    class _Raw:
        def stream(self, **_: Any) -> Any:
            yield body

    def handler(request: Any, **_: Any) -> Any:
        if len(answered) >= times:
            return None
        answered.append(1)
        headers = {
            "x-amzn-RequestId": "00000000-0000-0000-0000-000000000000",
            "x-amzn-ErrorType": "ThrottlingException",
            "Content-Type": "application/x-amz-json-1.1",
            "Content-Length": str(len(body)),
        }
        return AWSResponse(request.url, 400, headers, _Raw())

    client.meta.events.register(f"before-send.kms.{operation}", handler)
    return answered
