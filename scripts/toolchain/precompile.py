"""Byte-compile, once, the Python every process of `make test` would otherwise compile from
source again: `python -m scripts.toolchain.precompile` (scripts/toolchain/test.sh runs it before
the suite).

These machines set ``PYTHONDONTWRITEBYTECODE``, so no process writes a ``.pyc``: the venv's
packages are compiled at install (scripts/toolchain/install_python.sh), but two kinds of module
were compiled from source by every process that imported them, every run:

- the repository's own modules (``keepers``, ``ballast_dev``, ``scripts``, ``tests``): about
  0.08 s of CPU in each of the suite's ``keeper`` subprocesses;
- every module pytest rewrites for its assertions: the test files, the conftest files, the
  modules named in ``pytest_plugins`` and every module of a distribution that ships a pytest
  plugin (``ape`` and its ``ape_*`` packages, ``hypothesis``, ``anyio``, ``xdist``, ...).
  pytest keeps a rewritten module in its own ``.pyc`` (``__pycache__/NAME.<impl>-pytest-<ver>.pyc``)
  and reads it even when bytecode writing is off, but writes it only when writing is on: each
  xdist worker, which collects the whole suite, rewrote all of them again (its collection took
  18 s of CPU instead of 8).

Both are written here the way their own readers check them: the interpreter's ``.pyc`` by
``compileall`` (source modification time and size, as any import would write it) and pytest's by
pytest's own rewrite and write functions, which its importer accepts only while the source's
modification time and size and the pytest version are those it was written from. So a stale
``.pyc`` is never used: an edited file is compiled from source as before (and written again by
the next run of this). Nothing here changes what a process runs; ``BALLAST_PRECOMPILE=0`` skips it.
"""

from __future__ import annotations

import ast
import compileall
import fnmatch
import importlib.metadata
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OWN_PACKAGES = ("keepers", "ballast_dev", "scripts", "tests")
TEST_PATTERNS = ("test_*.py", "*_test.py")  # pytest's default python_files (pyproject sets none)


def _pytest_plugins(conftest: Path) -> list[str]:
    """The module names a conftest lists in ``pytest_plugins`` (read, not imported)."""
    tree = ast.parse(conftest.read_bytes(), filename=str(conftest))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytest_plugins" for t in node.targets
        ):
            value = ast.literal_eval(node.value)
            return [value] if isinstance(value, str) else list(value)
    return []


def own_rewritten(root: Path = ROOT) -> list[Path]:
    """The repository's files pytest rewrites: test files, conftests, ``pytest_plugins``."""
    tests = root / "tests"
    found: set[Path] = set()
    for path in tests.rglob("*.py"):
        if "__pycache__" in path.parts:
            continue
        if path.name == "conftest.py":
            found.add(path)
            for name in _pytest_plugins(path):
                module = root.joinpath(*name.split("."))
                for candidate in (module.with_suffix(".py"), module / "__init__.py"):
                    if candidate.is_file():
                        found.add(candidate)
        elif any(fnmatch.fnmatch(path.name, p) for p in TEST_PATTERNS):
            found.add(path)
    return sorted(found)


def plugin_rewritten() -> list[Path]:
    """Every module of the installed distributions that ship a pytest plugin: pytest marks their
    top-level modules and packages for rewriting (``Config._mark_plugins_for_rewrite``)."""
    from _pytest.config import _iter_rewritable_modules

    found: set[Path] = set()
    for dist in importlib.metadata.distributions():
        if not any(ep.group == "pytest11" for ep in dist.entry_points):
            continue
        files = [str(f) for f in dist.files or []]
        names = set(_iter_rewritable_modules(files))
        for f in dist.files or []:
            top = f.parts[0].removesuffix(".py") if f.parts else ""
            if f.suffix == ".py" and top in names:
                path = Path(str(dist.locate_file(f)))
                if path.is_file():
                    found.add(path)
    return sorted(found)


def rewrite_one(path: str) -> bool:
    """pytest's rewritten ``.pyc`` of ``path`` written where its importer looks; False when a
    valid one was already there (or the directory cannot be written)."""
    from _pytest.assertion.rewrite import (
        PYC_TAIL,
        _read_pyc,
        _rewrite_test,
        _write_pyc,
        get_cache_dir,
        try_makedirs,
    )

    fn = Path(path)
    cache_dir = get_cache_dir(fn)
    pyc = cache_dir / (fn.name[:-3] + PYC_TAIL)
    if _read_pyc(fn, pyc) is not None:
        return False
    if not try_makedirs(cache_dir):
        return False
    # config=None: the rewrite then reads no ini option; the only one it reads,
    # enable_assertion_pass_hook, is off here (tests/offchain/test_precompile.py checks the
    # code equals what pytest writes with the suite's own config)
    stat, co = _rewrite_test(fn, None)  # type: ignore[arg-type]
    return _write_pyc(_NoTrace(), co, stat, pyc)  # type: ignore[arg-type]


class _NoTrace:
    """The part of pytest's ``AssertionState`` that ``_write_pyc`` uses (its trace)."""

    @staticmethod
    def trace(_message: str) -> None:
        return None


def main(argv: list[str] | None = None) -> int:
    if os.environ.get("BALLAST_PRECOMPILE") == "0":
        return 0
    workers = max(1, os.cpu_count() or 1)
    own = [str(ROOT / p) for p in OWN_PACKAGES if (ROOT / p).is_dir()]
    ok = all([compileall.compile_dir(d, quiet=1, workers=workers) for d in own])
    rewritten = [str(p) for p in own_rewritten() + plugin_rewritten()]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        written = sum(pool.map(rewrite_one, rewritten, chunksize=16))
    print(f"precompile: {len(rewritten)} pytest-rewritten modules checked, {written} written")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
