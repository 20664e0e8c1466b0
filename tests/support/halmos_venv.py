"""The symbolic proofs' venv (.venv-halmos) for the tests of their launcher and solver program.

`make test` makes the venv before the suite (scripts/toolchain/halmos_venv.sh), so where it is
missing these tests fail with the command that makes it: a skip here once hid them from every
fresh clone's run. BALLAST_ALLOW_NO_HALMOS=1 turns the failure back into a skip, for a
developer running single files on a checkout without it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HALMOS_PY = ROOT / ".venv-halmos/bin/python"


def require_halmos_venv(*modules: str) -> Path:
    """The venv's python, once it exists and imports ``modules``; else fail (or skip when
    BALLAST_ALLOW_NO_HALMOS=1) naming the command that makes it."""
    ready = HALMOS_PY.exists()
    if ready and modules:
        probe = subprocess.run(
            [str(HALMOS_PY), "-c", f"import {', '.join(modules)}"], capture_output=True
        )
        ready = probe.returncode == 0
    if not ready:
        why = f"no .venv-halmos with {', '.join(('halmos', *modules))}: run `make halmos-venv`"
        if os.environ.get("BALLAST_ALLOW_NO_HALMOS") == "1":
            pytest.skip(why)
        pytest.fail(why)
    return HALMOS_PY
