"""The keeper as an operator installs it: the runtime wheel (``pip wheel .``: the ``keepers``
package and its pinned dependencies, no ``ballast_dev``, no ape) installed into a clean venv of
its own, made from the interpreter alone (``python3 -m venv``), as docs/operator/deploy.md's
host set-up says.

The venv is cached between runs under ``~/.cache/ballast/runtime-venv/<hash>``, the hash of
every file the wheel is built from (pyproject.toml, README.md, keepers/) and of the Python
version: a change to the runtime builds a new one. Building takes the wheel (about 5 s) and the
install (uv from the project's venv, from its cache: about 10 s; pip where uv is missing); a
lock file keeps two test processes from building the same venv at once.

:func:`runtime_env` is the environment such a keeper runs with: the venv's ``bin`` alone on
PATH (no ape, no node, no anvil: whatever the keeper needs must come with the wheel), no
PYTHONPATH, a home of the test's own."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "keepers")
CACHE = Path(os.environ.get("BALLAST_RUNTIME_VENV_CACHE", Path.home() / ".cache" / "ballast"))
# the dev toolchain's commands, none of which may be in the runtime venv
DEV_TOOLS = ("ape", "anvil", "node", "npm", "forge", "cast", "solc", "pytest")


def _files() -> list[Path]:
    out: list[Path] = []
    for name in SOURCES:
        p = ROOT / name
        if p.is_file():
            out.append(p)
            continue
        for f in sorted(p.rglob("*")):
            if f.is_file() and "__pycache__" not in f.parts and f.suffix not in (".pyc", ".pyo"):
                out.append(f)
    return out


def source_hash() -> str:
    """What the wheel is built from, and the Python that runs it."""
    h = hashlib.sha256(f"{sys.version_info[:2]}".encode())
    for f in _files():
        h.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _base_python() -> str:
    """The interpreter the project's venv was made from (a venv made from a venv's python
    would be made from the same base anyway; this says so)."""
    return str(getattr(sys, "_base_executable", None) or sys.executable)


def build_wheel(out: Path) -> Path:
    """``pip wheel --no-deps .`` over a clean copy of the wheel's sources (the checkout's own
    ``build/`` and egg-info are not written); returns the wheel."""
    with tempfile.TemporaryDirectory(prefix="ballast-wheel-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for f in _files():
            dest = src / f.relative_to(ROOT)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, dest)
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
             "--disable-pip-version-check", "-w", str(out), str(src)],
            check=True, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    (wheel,) = out.glob("ballast_keepers-*.whl")
    return wheel


def runtime_venv() -> Path:
    """The clean venv holding the installed runtime wheel (built once per source hash)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    venv = CACHE / "runtime-venv" / source_hash()
    done = venv / ".installed"
    with open(CACHE / "runtime-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        # older builds (a day unused) go: one venv per runtime version would pile up
        for old in venv.parent.iterdir():
            if old != venv and time.time() - old.stat().st_mtime > 86_400:
                shutil.rmtree(old, ignore_errors=True)
        subprocess.run([_base_python(), "-m", "venv", str(venv)], check=True, timeout=300)
        with tempfile.TemporaryDirectory(prefix="ballast-dist-") as dist:
            wheel = build_wheel(Path(dist))
            r = subprocess.run(
                ["bash", str(ROOT / "scripts" / "toolchain" / "install_python.sh"), str(venv),
                 str(wheel)],
                cwd=ROOT, capture_output=True, text=True, timeout=900,
            )  # fmt: skip
            assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        # install_python.sh may leave uv in the venv: not part of the runtime
        for tool in ("uv", "uvx"):
            (venv / "bin" / tool).unlink(missing_ok=True)
        done.write_text(wheel.name + "\n")
        return venv


def runtime_env(venv: Path, home: Path, **settings: str) -> dict[str, str]:
    """The keeper's whole environment: the venv's bin alone on PATH, ``home`` as HOME, UTC,
    and ``settings``; nothing inherited from the test's process (no PYTHONPATH, no ape data
    folder unless given)."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": str(venv / "bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        **settings,
    }
