"""An ape data folder of a test's own (``APE_DATA_FOLDER``), as an operator's ``~/.ape`` is:
keyfile accounts under ``accounts/``, the user-level ``ape-config.yaml`` that declares the
networks, and the installed dependency packages shared with the real data folder (a symlink,
so nothing is compiled again).

The project's ape-config.yaml declares no custom network: the rehearsal chain ``upstream`` is
declared in ``deploy/ape/rehearsal.ape-config.yaml``, which :func:`make_ape_home` writes into
the folder, merged with what a test adds (its own networks, confirmations)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

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
