"""Secrets in settings and in what the keeper prints: the names that hold them, the values that
look like them (a raw private key, a mnemonic), and the scrubbing every error and log line goes
through (keepers.core.settings re-exports these)."""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import (
    SecretBytes,
    SecretStr,
)

# Names that hold secrets, wherever they appear (a settings field, an env variable, a profile
# key): their values are never printed, whatever the error.
_SECRET_NAME = re.compile(
    # AWS's credential variables too (AWS_SECRET_ACCESS_KEY ends in _key already): the access
    # key id and the session token of the KMS signer's credentials
    r"(^|_)(key|private_key|passphrase|password|secret|api_secret|mnemonic|access_key_id"
    r"|session_token|security_token)$",
    re.IGNORECASE,
)
REDACTED = "<redacted>"


def is_secret_name(name: str) -> bool:
    """True for a field or variable name whose value must never be shown."""
    return bool(_SECRET_NAME.search(name))


def secret_values(value: Any, out: set[str]) -> None:
    if isinstance(value, SecretStr | SecretBytes):
        out.add(str(value.get_secret_value()))
    elif isinstance(value, Mapping):
        for k, v in value.items():
            if is_secret_name(str(k)) and isinstance(v, str | bytes | SecretStr | SecretBytes):
                raw = v.get_secret_value() if isinstance(v, SecretStr | SecretBytes) else v
                out.add(raw.decode() if isinstance(raw, bytes) else str(raw))
            else:
                secret_values(v, out)
    elif isinstance(value, list | tuple):
        for v in value:
            secret_values(v, out)


# Secret values met outside the environment (a config file's secret fields), registered by
# the loaders that read them: every scrub of the process redacts them as well.
_registered: set[str] = set()


def register_secrets(values: Iterable[str]) -> None:
    """Redact these values too, wherever they appear, for the rest of the process."""
    _registered.update(v for v in values if v and len(v) >= 4)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every known secret value (4+ characters) replaced by ``<redacted>``."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


# A value shaped like a secret, whatever variable it lands in (two variables swapped, a key
# pasted into a path setting): a raw private key (32 bytes hex, with or without 0x) or a
# BIP-39 mnemonic (12-24 lowercase words).
_KEY_SHAPE = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
_MNEMONIC_SHAPE = re.compile(r"^[a-z]+( [a-z]+){11,23}$")


# A private key without its 0x standing alone in a text (a replica id stored before the
# settings refused keys, an error message): no output of the keeper shows 64 bare hex digits
# (hashes are printed with their 0x, calldata and signatures are longer runs), so every one is
# redacted wherever it is printed (keepers.core.redact, the log processor).
_BARE_KEY_TOKEN = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{64}(?![0-9A-Za-z])")


def redact_key_tokens(text: str) -> str:
    """``text`` with every standalone run of exactly 64 hex digits (a private key without its
    0x) replaced by ``<redacted>``."""
    return _BARE_KEY_TOKEN.sub(REDACTED, text) if len(text) >= 64 else text


def redact_stored(value: Any) -> Any:
    """What was read back from the store, fit to print: a free-text value that is a private
    key as a whole (with or without 0x: a replica id, a host, a name) is ``<redacted>``, and
    bare keys inside a text are redacted (`redact_key_tokens`). For identity fields only: a
    hash column holds 0x and 64 hex digits by right, and is not passed here."""
    if isinstance(value, str):
        return REDACTED if _KEY_SHAPE.match(value.strip()) else redact_key_tokens(value)
    if isinstance(value, list | tuple):
        return type(value)(redact_stored(v) for v in value)
    return value


def secret_shaped(value: str) -> set[str]:
    """The secret parts of one configured value: the whole of it when it looks like a key or
    a mnemonic (the key with and without its 0x), the password of a URL (a database URL's
    ``postgresql://user:password@host/db``); empty otherwise."""
    v = value.strip()
    out: set[str] = set()
    if _KEY_SHAPE.match(v):
        bare = v.removeprefix("0x")
        out |= {v, bare, "0x" + bare}
    elif _MNEMONIC_SHAPE.match(v):
        out.add(v)
    if "://" in v:
        try:
            password = urllib.parse.urlsplit(v).password
        except ValueError:
            password = None
        if password:
            out |= {password, urllib.parse.quote(password, safe="")}
    return out


def env_secrets(env: Mapping[str, str] | None = None) -> set[str]:
    """Every secret the environment holds: the value of each variable whose name says it is
    a secret, and, in any variable, a value shaped like one (`secret_shaped`), so a key that
    lands in a path setting is redacted too."""
    env = os.environ if env is None else env
    out: set[str] = set()
    for k, v in env.items():
        if not v:
            continue
        if is_secret_name(k):
            out.add(v)
        out |= secret_shaped(v)
    return out | _registered


def private_key_shaped(value: Any) -> bool:
    """True for a value that is a private key (64 hex digits, with or without 0x) or a
    mnemonic: what no free-text setting (a replica id, a path, a role name) may hold."""
    if isinstance(value, SecretStr | SecretBytes) or not isinstance(value, str | Path):
        return False
    v = str(value).strip()
    return bool(_KEY_SHAPE.match(v) or _MNEMONIC_SHAPE.match(v))
