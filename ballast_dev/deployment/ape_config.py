"""Which ape config set a network's value, so the deploy can say where its settings come from.

ape merges the user-level config (``$APE_DATA_FOLDER/ape-config.yaml``, by default
``~/.ape/ape-config.yaml``) under the project's ``ape-config.yaml``: where both set a value the
project's wins. The operator's own values (confirmations above all) therefore live in the
user-level file, and the project's file sets them only for ``local`` (issue 48: a project value
for ``sepolia`` silently replaced the operator's 2 with 1). The deploy prints the number it
waits for and which file set it, or that it is ape's default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

PROJECT_CONFIG = Path(__file__).resolve().parents[2] / "ape-config.yaml"


def _setting(path: Path, keys: tuple[str, ...]) -> Any:
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None
    for k in keys:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(k, doc.get(k.replace("_", "-")))
    return doc


def user_config_path() -> Path:
    from ape import config

    return Path(config.DATA_FOLDER) / "ape-config.yaml"


def source_of(ecosystem: str, network: str, key: str, user_config: Path | None = None) -> str:
    """Which file sets ``<ecosystem>.<network>.<key>``: the project's (it wins), the user's,
    or neither (ape's default)."""
    keys = (ecosystem, network, key)
    dotted = ".".join(keys)
    if _setting(PROJECT_CONFIG, keys) is not None:
        return f"{dotted} in the project's {PROJECT_CONFIG.name}"
    user = user_config if user_config is not None else user_config_path()
    if _setting(user, keys) is not None:
        return f"{dotted} in {user}"
    return f"ape's default: {dotted} is set in no config (put it in {user})"


def required_confirmations(net: Any) -> tuple[int, str]:
    """The connected network's confirmations, as ape resolved them, and where they come from."""
    n = int(net.required_confirmations or 0)
    return n, source_of(net.ecosystem.name, net.name, "required_confirmations")
