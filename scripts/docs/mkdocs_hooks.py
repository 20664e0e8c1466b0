"""mkdocs hooks: the project's version (keepers/version.py, the one source) on every page's
footer and wherever a page writes ``{{ version }}`` or ``{{ contracts_release }}``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from keepers.version import CONTRACTS_RELEASE, __version__  # noqa: E402


def on_config(config: Any, **_: Any) -> Any:
    config["copyright"] = (
        f"Ballast {__version__} (contract release {CONTRACTS_RELEASE}): "
        "see the changelog for what each release changed"
    )
    config.setdefault("extra", {})["version"] = __version__
    return config


def on_page_markdown(markdown: str, **_: Any) -> str:
    return markdown.replace("{{ version }}", __version__).replace(
        "{{ contracts_release }}", CONTRACTS_RELEASE
    )
