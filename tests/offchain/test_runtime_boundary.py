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
