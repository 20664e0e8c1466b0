"""A keeper key held in AWS KMS (``KEEPER_SIGNER_KIND=aws-kms``): the key never leaves KMS.

The key is an asymmetric KMS key of spec ``ECC_SECG_P256K1`` (secp256k1, Ethereum's curve) and
usage ``SIGN_VERIFY``. What KMS gives back is not what Ethereum takes, and the known bugs of
KMS signing on Ethereum are each one of these steps done wrong or not at all:

- ``GetPublicKey`` answers a DER ``SubjectPublicKeyInfo``: the 65-byte uncompressed point is
  taken out of it (the curve checked to be secp256k1) and the address is the last 20 bytes of
  the keccak of its 64 coordinates bytes. It is logged at start-up (``signer.aws_kms``).
- ``Sign`` is called with ``MessageType=DIGEST`` and ``SigningAlgorithm=ECDSA_SHA_256``: the
  32 bytes sent are the keccak digest Ethereum signs (the transaction's signing hash, an
  EIP-712 or EIP-191 digest), signed as they are (with ``RAW`` KMS would hash them with
  SHA-256 first and the signature would be of another message).
- The signature comes back DER-encoded (``SEQUENCE { INTEGER r, INTEGER s }``) with ``s``
  anywhere in [1, n-1]; Ethereum (EIP-2, OpenZeppelin's ECDSA) takes only the lower half, so
  ``s > n/2`` becomes ``n - s`` (the same signature's twin: the recovery id flips with it).
- KMS returns no recovery id: both candidates are recovered against the key's address and the
  one that gives it is used. When neither does (the alias now names another key, a KMS that
  answers wrongly) the signature is refused (`KmsSignatureRefused`) and nothing is sent; the
  pipeline's Validate step checks the signed transaction against what was built on top.

Errors name the setting and the key, never a credential (boto3 finds those itself: the
environment's ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``, a profile,
an instance role; keepers.core.settings redacts those variables' values from every output).
At start-up (``GetPublicKey``, then one ``Sign`` of a fixed digest checked like every other)
every problem is a ConfigError (exit 2): a key not found in the region, a disabled key, a key
of another spec, no credentials or no ``kms:Sign``, KMS throttling past the retries.
While signing, a KMS that throttles is retried with backoff a bounded number of times
(``KEEPER_SIGNER_KMS_MAX_ATTEMPTS``), then `KmsUnavailable` (a NodeError: the pipeline backs off
with the intent still unsigned and tries again later; nothing is sent).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import structlog
from coincurve import PublicKey
from eth_account.messages import SignableMessage, _hash_eip191_message, encode_typed_data

from keepers.core.errors import ConfigError
from keepers.core.signatures import HALF_N, SECP256K1_N
from keepers.tx.errors import NodeError
from keepers.tx.txcodec import encode_signed_1559, keccak256, signing_hash_1559

log = structlog.get_logger(__name__)

KEY_SPEC = "ECC_SECG_P256K1"
KEY_USAGE = "SIGN_VERIFY"
SIGNING_ALGORITHM = "ECDSA_SHA_256"

# OIDs (DER contents) of SubjectPublicKeyInfo's algorithm: id-ecPublicKey and the curves
_OID_EC_PUBLIC_KEY = bytes.fromhex("2a8648ce3d0201")  # 1.2.840.10045.2.1
_OID_SECP256K1 = bytes.fromhex("2b8104000a")  # 1.3.132.0.10
_CURVE_NAMES = {
    bytes.fromhex("2a8648ce3d030107"): "P-256 (secp256r1)",
    bytes.fromhex("2b81040022"): "P-384",
    bytes.fromhex("2b81040023"): "P-521",
}

# KMS error codes worth another try (AWS's own retry guidance); anything else is final
RETRYABLE = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "KMSInternalException",
        "DependencyTimeoutException",
        "InternalFailure",
        "ServiceUnavailable",
    }
)


class KmsUnavailable(NodeError):
    """KMS did not sign (throttled past the retries, unreachable, the key disabled or deleted
    since start-up, access denied): the intent stays unsigned and the pipeline tries again
    after its backoff. Nothing is sent."""


class KmsSignatureRefused(NodeError):
    """KMS answered a signature that does not recover to the key's address (or is not a
    valid DER ECDSA signature): refused, never sent."""


# ------------------------------------------------------------------------------- DER (pure)


def _der(buf: bytes, pos: int, tag: int) -> tuple[int, int]:
    """The (start, end) of the contents of the DER element with `tag` at `pos`."""
    if pos + 2 > len(buf) or buf[pos] != tag:
        raise ValueError(f"expected DER tag 0x{tag:02x} at byte {pos}")
    first = buf[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > 2 or pos + n > len(buf):
            raise ValueError("bad DER length")
        length = int.from_bytes(buf[pos : pos + n], "big")
        if length < 0x80 or (n == 2 and length < 0x100):
            raise ValueError("non-minimal DER length")
        pos += n
    if pos + length > len(buf):
        raise ValueError("DER element runs past the end")
    return pos, pos + length


def _der_uint(buf: bytes, pos: int) -> tuple[int, int]:
    """A DER INTEGER that must be positive and minimally encoded; returns (value, next pos)."""
    start, end = _der(buf, pos, 0x02)
    body = buf[start:end]
    if not body or body[0] & 0x80:
        raise ValueError("DER INTEGER is empty or negative")
    if len(body) > 1 and body[0] == 0 and not body[1] & 0x80:
        raise ValueError("non-minimal DER INTEGER")
    return int.from_bytes(body, "big"), end


def decode_der_signature(der: bytes) -> tuple[int, int]:
    """(r, s) of a DER ``ECDSA-Sig-Value`` (``SEQUENCE { INTEGER r, INTEGER s }``), each
    checked in [1, n-1]; nothing may follow it."""
    start, end = _der(der, 0, 0x30)
    if end != len(der):
        raise ValueError("bytes after the DER signature")
    r, pos = _der_uint(der, start)
    s, pos = _der_uint(der, pos)
    if pos != end:
        raise ValueError("bytes after s in the DER signature")
    if not (0 < r < SECP256K1_N and 0 < s < SECP256K1_N):
        raise ValueError("r or s out of range")
    return r, s


def public_point_from_spki(der: bytes) -> bytes:
    """The 65-byte uncompressed secp256k1 point (0x04 | X | Y) of a DER SubjectPublicKeyInfo
    (what KMS GetPublicKey returns); ValueError naming the curve for a key on another one."""
    start, end = _der(der, 0, 0x30)
    if end != len(der):
        raise ValueError("bytes after the SubjectPublicKeyInfo")
    alg_start, alg_end = _der(der, start, 0x30)
    oid_start, oid_end = _der(der, alg_start, 0x06)
    if der[oid_start:oid_end] != _OID_EC_PUBLIC_KEY:
        raise ValueError("not an elliptic-curve public key")
    curve_start, curve_end = _der(der, oid_end, 0x06)
    curve = der[curve_start:curve_end]
    if curve != _OID_SECP256K1:
        raise ValueError(f"curve {_CURVE_NAMES.get(curve, curve.hex())}, not secp256k1")
    bits_start, bits_end = _der(der, alg_end, 0x03)
    bits = der[bits_start:bits_end]
    if len(bits) != 66 or bits[0] != 0 or bits[1] != 0x04:
        raise ValueError("the key is not a 65-byte uncompressed point")
    point = bits[1:]
    PublicKey(point)  # on the curve, or ValueError
    return point


def address_of_point(point: bytes) -> str:
    """The Ethereum address (checksummed) of a 65-byte uncompressed point."""
    from eth_utils import to_checksum_address

    return to_checksum_address(keccak256(point[1:])[-20:])


def address_from_spki(der: bytes) -> str:
    """GetPublicKey's DER SubjectPublicKeyInfo -> uncompressed point -> keccak -> address."""
    return address_of_point(public_point_from_spki(der))


def normalise_and_recover(digest: bytes, r: int, s: int, address: str) -> tuple[int, int, int]:
    """(v 0/1, r, s low) for a raw KMS signature of `digest` by `address`: s flipped to the
    lower half when above n/2, and the recovery id the one of the two candidates that
    recovers `address`. KmsSignatureRefused when neither does."""
    if s > HALF_N:
        s = SECP256K1_N - s
    want = address.lower()
    rs = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    for v in (0, 1):
        try:
            pub = PublicKey.from_signature_and_message(rs + bytes([v]), digest, hasher=None)
        except Exception:  # noqa: BLE001 - no point for this candidate
            continue
        if "0x" + keccak256(pub.format(compressed=False)[1:])[-20:].hex() == want:
            return v, r, s
    raise KmsSignatureRefused(
        f"the KMS signature does not recover to the key's address {address} with either "
        "recovery id: refused, nothing sent (was the alias pointed at another key?)"
    )


# ------------------------------------------------------------------------------ the signer


def kms_client(
    region: str | None,
    endpoint_url: str | None,
    timeout_s: float,
    region_setting: str = "KEEPER_SIGNER_KMS_REGION",
) -> Any:  # botocore.client.KMS
    """A boto3 KMS client; botocore's own retries off (the signer retries, bounded, itself).
    Credentials from boto3's chain. ConfigError when no region is set anywhere."""
    import logging

    import boto3
    from botocore.config import Config
    from botocore.exceptions import NoRegionError

    # botocore at DEBUG logs every request's headers: the Authorization header's access key id
    # and X-Amz-Security-Token, the session token of an instance role (which no environment
    # variable holds, so the output scrubbing would not know it). KEEPER_LOG_LEVEL=DEBUG must
    # not print them: boto's loggers stay at WARNING.
    for name in ("botocore", "boto3", "s3transfer"):
        logging.getLogger(name).setLevel(max(logging.getLogger(name).level, logging.WARNING))

    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
    )
    try:
        return boto3.session.Session().client(
            "kms", region_name=region, endpoint_url=endpoint_url, config=config
        )
    except NoRegionError:
        raise ConfigError(
            f"{region_setting}: no AWS region for the KMS key (set {region_setting}, or "
            "AWS_DEFAULT_REGION or a profile's region for the process)"
        ) from None


class AwsKmsSigner:
    """Signs with an AWS KMS key (key id, key ARN, or ``alias/NAME``). The address is derived
    from the key's public key at construction; every signature is checked against it."""

    kind = "aws-kms"

    def __init__(
        self,
        key_id: str,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        max_attempts: int = 5,
        backoff_s: float = 0.2,
        timeout_s: float = 10.0,
        expected_address: str | None = None,
        client: Any = None,
        setting: str = "KEEPER_SIGNER_KMS_KEY_ID",
        region_setting: str = "KEEPER_SIGNER_KMS_REGION",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not key_id:
            raise ConfigError(f"{setting}: the KMS key id, ARN or alias/NAME is required")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.key_id = key_id
        self.setting = setting
        self.region_setting = region_setting
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self._sleep = sleep
        if client is None:
            client = kms_client(region, endpoint_url, timeout_s, region_setting)
        self._client = client
        self.region = str(self._client.meta.region_name)
        self.endpoint_url = endpoint_url
        self.signatures = 0  # signatures made (each checked)
        self.high_s = 0  # of which KMS answered s in the upper half (normalised here)
        self.retries = 0  # KMS calls tried again (throttling and the like)
        self._lock = threading.Lock()
        resp = self._call("GetPublicKey", startup=True, KeyId=key_id)
        self.key_arn = str(resp.get("KeyId", key_id))
        spec = resp.get("KeySpec") or resp.get("CustomerMasterKeySpec")
        usage = resp.get("KeyUsage")
        if spec != KEY_SPEC or usage != KEY_USAGE:
            raise ConfigError(
                f"{self._where()}: the key is {spec} for {usage}; a keeper key must be "
                f"{KEY_SPEC} (secp256k1) for {KEY_USAGE}: create one with "
                f"`aws kms create-key --key-spec {KEY_SPEC} --key-usage {KEY_USAGE}`"
            )
        algorithms = resp.get("SigningAlgorithms") or []
        if SIGNING_ALGORITHM not in algorithms:
            raise ConfigError(
                f"{self._where()}: the key does not sign with {SIGNING_ALGORITHM} "
                f"(it offers {', '.join(algorithms) or 'nothing'})"
            )
        try:
            self.address: str = address_from_spki(bytes(resp["PublicKey"]))
        except (KeyError, ValueError) as err:
            raise ConfigError(f"{self._where()}: unusable public key from KMS: {err}") from None
        if expected_address and expected_address.lower() != self.address.lower():
            raise ConfigError(
                f"{self._where()}: the key's address is {self.address}, not "
                f"KEEPER_SIGNER_ADDRESS={expected_address} (the key id or alias names another "
                "key than the one this keeper was set up with)"
            )
        # one Sign at start-up: a disabled key (AWS answers GetPublicKey for it), a role
        # without kms:Sign, a KMS that does not sign a DIGEST as it is, all refuse to start
        # here instead of at the first transaction
        try:
            self.sign_digest(keccak256(b"ballast keeper: aws-kms start-up check"))
        except (KmsUnavailable, KmsSignatureRefused) as err:
            raise ConfigError(f"start-up signature check failed: {err}") from None
        log.info(
            "signer.aws_kms",
            address=self.address,
            key=self.key_arn,
            region=self.region,
            endpoint=endpoint_url or "aws",
        )

    def _where(self) -> str:
        return f"{self.setting}={self.key_id!r} (region {self.region!r})"

    def _call(self, op: str, *, startup: bool, **params: Any) -> dict[str, Any]:
        """One KMS call, retried with exponential backoff on throttling and transient errors up
        to max_attempts; each failure mapped once to a message naming the setting."""
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            HTTPClientError,
            NoCredentialsError,
        )
        from botocore.exceptions import (
            ConnectionError as BotoConnectionError,
        )

        method = getattr(self._client, "get_public_key" if op == "GetPublicKey" else "sign")
        fail: type[Exception] = ConfigError if startup else KmsUnavailable
        last = ""
        for attempt in range(self.max_attempts):
            if attempt:
                with self._lock:
                    self.retries += 1
                delay = self.backoff_s * 2 ** (attempt - 1)
                log.warning(
                    "signer.aws_kms_retry", op=op, error=last, attempt=attempt, delay_s=delay
                )
                self._sleep(delay)
            try:
                result: dict[str, Any] = method(**params)
                return result
            except ClientError as err:
                code = str(err.response.get("Error", {}).get("Code", "?"))
                text = str(err.response.get("Error", {}).get("Message", ""))
                last = f"{code}: {text}" if text else code
                if code in RETRYABLE:
                    continue
                raise fail(
                    f"{self._where()}: KMS {op} refused: {self._advice(code, last)}"
                ) from None
            except NoCredentialsError:
                raise fail(
                    f"{self._where()}: no AWS credentials found (boto3 looks in the environment, "
                    "the shared credentials file and the instance role)"
                ) from None
            except (BotoConnectionError, HTTPClientError) as err:
                last = f"{type(err).__name__}: {err}"
                continue
            except BotoCoreError as err:
                raise fail(
                    f"{self._where()}: KMS {op} failed: {type(err).__name__}: {err}"
                ) from None
        raise fail(
            f"{self._where()}: KMS {op} failed {self.max_attempts} times ({last}); "
            "KEEPER_SIGNER_KMS_MAX_ATTEMPTS sets the tries, the account's KMS request quota the "
            "rate"
        )

    def _advice(self, code: str, text: str) -> str:
        if code == "NotFoundException":
            return (
                f"{text} (no such key or alias in region {self.region!r}: check "
                f"{self.setting} and {self.region_setting})"
            )
        if code == "DisabledException":
            return f"{text} (the key is disabled: enable it, or point {self.setting} at another)"
        if code == "KMSInvalidStateException":
            return f"{text} (the key is pending deletion or not usable)"
        if code == "AccessDeniedException":
            return f"{text} (the keeper's role needs kms:GetPublicKey and kms:Sign on this key)"
        if code in ("UnrecognizedClientException", "InvalidSignatureException"):
            return f"{text} (the AWS credentials were refused)"
        return text

    # --------------------------------------------------------------------------- signing

    def sign_digest(self, digest: bytes) -> tuple[int, int, int]:
        """(v 0/1, r, s) of the 32-byte `digest` by the KMS key, low-s, recovery id found."""
        if len(digest) != 32:
            raise ValueError(f"a digest is 32 bytes, got {len(digest)}")
        resp = self._call(
            "Sign",
            startup=False,
            KeyId=self.key_id,
            Message=digest,
            MessageType="DIGEST",
            SigningAlgorithm=SIGNING_ALGORITHM,
        )
        try:
            r, s = decode_der_signature(bytes(resp["Signature"]))
        except (KeyError, ValueError) as err:
            raise KmsSignatureRefused(
                f"{self._where()}: KMS answered no valid DER signature ({err}): refused"
            ) from None
        high = s > HALF_N
        v, r, s = normalise_and_recover(digest, r, s, self.address)
        with self._lock:
            self.signatures += 1
            self.high_s += int(high)
        return v, r, s

    def sign_hash(self, digest: bytes) -> bytes:
        """A 65-byte r|s|v signature (v 27/28, low s) of `digest`: the form the contracts
        (OpenZeppelin ECDSA) and keepers.core.signatures count."""
        v, r, s = self.sign_digest(digest)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([27 + v])

    def sign_message(self, message: SignableMessage) -> bytes:
        """An EIP-191 message (``encode_defunct``) or EIP-712 typed data (``encode_typed_data``)
        signed as eth-account's ``Account.sign_message`` signs it, as 65 bytes r|s|v."""
        return self.sign_hash(bytes(_hash_eip191_message(message)))

    def sign_typed_data(self, full_message: dict[str, Any]) -> bytes:
        """EIP-712 typed data (types, primaryType, domain, message), 65 bytes r|s|v."""
        return self.sign_message(encode_typed_data(full_message=full_message))

    def sign_transaction(self, tx: dict[str, Any]) -> bytes:
        if int(tx.get("type", 2)) != 2:
            raise ValueError("only EIP-1559 (type 2) transactions are signed")
        fields, digest = signing_hash_1559(tx)
        v, r, s = self.sign_digest(digest)
        return encode_signed_1559(fields, v, r, s)
