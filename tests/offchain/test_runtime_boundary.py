"""keepers/ is the runtime only (issue 12): it imports neither ape nor matplotlib nor the
dev tree (ballast_dev), and finds no file by its place in the repository."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEEPERS = ROOT / "keepers"

_IMPORT_ALL = """
import importlib, json, pkgutil, sys
import keepers
names = [m.name for m in pkgutil.walk_packages(keepers.__path__, "keepers.")
         if ".migrations" not in m.name]
for name in names:
    importlib.import_module(name)
roots = sorted({m.split(".")[0] for m in sys.modules})
print(json.dumps({"modules": len(names), "roots": roots}))
"""


def test_every_keepers_module__imported__pulls_in_no_dev_dependency():
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    seen = json.loads(out.splitlines()[-1])
    assert seen["modules"] > 50
    for dev_only in ("ape", "ape_solidity", "ape_foundry", "matplotlib", "ballast_dev"):
        assert dev_only not in seen["roots"], f"the runtime imports {dev_only}"


def test_keepers_sources__no_repository_paths_and_no_ape_import():
    offenders = []
    for path in sorted(KEEPERS.rglob("*.py")):
        text = path.read_text()
        rel = path.relative_to(ROOT)
        if re.search(r"\.parents\[\d\]|\.parent\.parent", text):
            offenders.append(f"{rel}: a path climbing out of the package")
        if re.search(
            r"^\s*(import ape\b|from ape\b|import ballast_dev|from ballast_dev)", text, re.M
        ):
            offenders.append(f"{rel}: imports a dev-only package")
    assert offenders == []


def test_cli_root__no_module_of_keepers_imports_it__slices_use_cli_base():
    """keepers.cli is the composition root (issue 24): it imports every slice's commands, and
    no module of the runtime imports it back (the old keepers.cli <-> keepers.fund.cli circle);
    the slices take the shared group and context from keepers.cli_base."""
    root = re.compile(r"^\s*(from keepers\.cli import|import keepers\.cli\b(?!_))", re.M)
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted(KEEPERS.rglob("*.py"))
        if path != KEEPERS / "cli.py" and root.search(path.read_text())
    ]
    assert offenders == []


_SLICES = ("fund", "automation", "crosschain", "portfolio")
_SLICE_IMPORT = re.compile(
    r"^\s*(?:from|import) keepers\.(?P<slice>" + "|".join(_SLICES) + r")\b", re.M
)


def test_shared_layers__import_no_slice__the_registry_is_a_composition_root():
    """The layers every slice shares (core, store, tx, runtime, alerts) import no slice, and
    the cross-chain slice nothing of the fund's: the approval policy they share lives in
    keepers.core.approval, and the bot registry (which imports every slice) in
    keepers.registry, handed to the runtime by the two entry points. The standalone worker's
    main is the one entry point below the slices: it may import the registry, inside main."""
    offenders = []
    for layer in ("core", "store", "tx", "runtime", "alerts"):
        for path in sorted((KEEPERS / layer).rglob("*.py")):
            text = path.read_text()
            for m in _SLICE_IMPORT.finditer(text):
                offenders.append(f"{path.relative_to(ROOT)}: imports keepers.{m['slice']}")
            registry = re.search(r"^\s*from keepers\.registry import", text, re.M)
            if registry and path != KEEPERS / "tx" / "worker.py":
                offenders.append(f"{path.relative_to(ROOT)}: imports the registry")
    for path in sorted((KEEPERS / "crosschain").rglob("*.py")):
        if re.search(r"^\s*(?:from|import) keepers\.fund\b", path.read_text(), re.M):
            offenders.append(f"{path.relative_to(ROOT)}: imports the fund slice")
    assert offenders == []
    worker = (KEEPERS / "tx" / "worker.py").read_text()
    at = worker.index("from keepers.registry import declarations")
    assert worker.rfind("\ndef main(", 0, at) > worker.rfind("\ndef build_pipeline(", 0, at), (
        "the worker imports the registry only inside main"
    )


# What `import keepers.cli` must not import (issue 68): every `keeper` process (each CLI test,
# the operator walks, the playbook) paid ~1 s of CPU importing them, though `--help`,
# `--version` and the read-only commands before their first read need none of them; the
# commands that do import them inside their functions (keepers.cli's `run`, the fund's).
_CLI_IMPORT = """
import json, sys
import keepers.cli
print(json.dumps(sorted(sys.modules)))
"""
_NOT_AT_CLI_IMPORT = (
    "keepers.runtime.runner",
    "keepers.registry",
    "keepers.fund.records",
    "keepers.fund.lifecycle",
    "keepers.crosschain.config",
    "yaml",
    "apscheduler",
    "sqlalchemy",
    "web3",
    "uvicorn",
    "starlette",
    "structlog",
)


def test_cli_import__loads_no_runner_scheduler_store_web3_server_or_structlog():
    out = subprocess.run(
        [sys.executable, "-c", _CLI_IMPORT], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out.splitlines()[-1]))
    assert "keepers.fund.cli" in loaded and "keepers.crosschain.cli" in loaded  # the commands
    heavy = sorted(m for m in _NOT_AT_CLI_IMPORT if m in loaded)
    assert heavy == [], f"`import keepers.cli` imports {heavy}: import them in the command"
