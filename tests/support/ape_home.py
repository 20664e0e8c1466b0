"""An ape data folder of a test's own (``APE_DATA_FOLDER``), as an operator's ``~/.ape`` is:
keyfile accounts under ``accounts/``, the user-level ``ape-config.yaml`` that declares the
networks, and the installed dependency packages shared with the real data folder (a symlink,
so nothing is compiled again).

The project's ape-config.yaml declares no custom network: the rehearsal chain ``upstream`` is
declared in ``deploy/ape/rehearsal.ape-config.yaml``, which :func:`make_ape_home` writes into
the folder, merged with what a test adds (its own networks, confirmations)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.support.ape_fork import ape_run

ROOT = Path(__file__).resolve().parents[2]
REHEARSAL_CONFIG = ROOT / "deploy" / "ape" / "rehearsal.ape-config.yaml"


def real_data_folder() -> Path:
    return Path(os.environ.get("APE_DATA_FOLDER", Path.home() / ".ape"))


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` over ``base``, dictionaries merged key by key and lists joined (what an
    operator writing both into one file would get)."""
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        elif isinstance(v, list) and isinstance(out.get(k), list):
            out[k] = [*out[k], *v]
        else:
            out[k] = v
    return out


def make_ape_home(
    home: Path, *, extra: dict[str, Any] | None = None, rehearsal: bool = True
) -> Path:
    """Creates ``home`` as an ape data folder; returns it. ``rehearsal`` declares the
    ``upstream`` network; ``extra`` is merged over it."""
    (home / "accounts").mkdir(parents=True, exist_ok=True)
    packages = real_data_folder() / "packages"
    packages.mkdir(parents=True, exist_ok=True)
    if not (home / "packages").exists():
        (home / "packages").symlink_to(packages)
    config: dict[str, Any] = yaml.safe_load(REHEARSAL_CONFIG.read_text()) if rehearsal else {}
    config = merge(config, extra or {})
    (home / "ape-config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return home


def write_account(
    home: Path, alias: str, key: bytes | str, passphrase: str, scrypt_n: int = 2**10
) -> str:
    """What ``ape accounts import <alias>`` writes: the key encrypted with ``passphrase`` as
    ``accounts/<alias>.json`` in the data folder. Returns the account's address.

    ``scrypt_n`` is lower than ape's (eth_account's 2**18, about 1 s per encryption and per
    unlock here, and every deploy or keeper process unlocks again); ape reads any n."""
    from eth_account import Account

    keyfile = Account.encrypt(key, passphrase, iterations=scrypt_n)
    (home / "accounts" / f"{alias}.json").write_text(json.dumps(keyfile))
    return str(Account.from_key(key).address)


def run_deploy(
    home: Path,
    network: str,
    alias: str | None,
    *args: str,
    passphrase: str | None = None,
    extra: dict[str, str] | None = None,
    timeout: float = 600,
    real: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``ape run deploy --network <network> [--account <alias>] <args>`` from the repository
    root with ``home`` as the ape data folder, no terminal (stdin closed: a prompt fails
    instead of waiting), the passphrase (if any) in ``APE_ACCOUNTS_<alias>_PASSPHRASE`` and
    the deploy's fault injectors cleared unless ``extra`` sets them. Forked from the ape
    server (tests/support/ape_fork.py) unless ``real``: then the ``ape`` console script."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("APE_ACCOUNTS_", "DEPLOY_STOP", "DEPLOY_FAULT"))
    }
    env.update(extra or {})
    env["APE_DATA_FOLDER"] = str(home)
    env["PATH"] = f"{ROOT / 'node_modules' / '.bin'}:{ROOT / '.venv' / 'bin'}:{env['PATH']}"
    if passphrase is not None and alias is not None:
        env[f"APE_ACCOUNTS_{alias}_PASSPHRASE"] = passphrase
    cmd = ["deploy", "--network", network]
    if alias is not None:
        cmd += ["--account", alias]
    if not real:
        return ape_run([*cmd, *args], env=env, cwd=ROOT, timeout=timeout)
    return subprocess.run(
        ["ape", "run", *cmd, *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
