"""scripts/toolchain/precompile.py: the ``.pyc`` it writes before the suite are the ones pytest
reads in place of rewriting a module again, hold the code pytest itself would make, are never
used once their source changed, and cover every module pytest rewrites."""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
from pathlib import Path

from _pytest.assertion import assertstate_key
from _pytest.assertion.rewrite import PYC_TAIL, _read_pyc, _rewrite_test, get_cache_dir

from scripts.toolchain import precompile

ROOT = Path(__file__).resolve().parents[2]


def _pyc(path: Path) -> Path:
    return get_cache_dir(path) / (path.name[:-3] + PYC_TAIL)


def test_the_code_written_is_the_code_pytest_makes_with_the_suites_config(pytestconfig):
    # a test file, a plugin module of the repository and a module of ape's pytest plugin
    import ape.pytest.plugin

    for path in (
        Path(__file__),
        ROOT / "tests/support/ape_speedups.py",
        Path(ape.pytest.plugin.__file__),
    ):
        precompile.rewrite_one(str(path))
        kept = _read_pyc(path, _pyc(path))
        assert kept is not None, path
        _, made = _rewrite_test(path, pytestconfig)
        # code objects compare by value: bytecode, constants (nested code too), names, lines
        assert kept == made, path


def _run_pytest(folder: Path) -> subprocess.CompletedProcess[str]:
    # a bare pytest (no plugin autoload, no ape): only the assertion rewrite is under test
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_pytest_runs_the_kept_code_and_never_a_stale_one(tmp_path):
    test = tmp_path / "test_kept.py"
    test.write_text("def test_it():\n    assert 'pyc' == 'pyc'\n")
    assert precompile.rewrite_one(str(test)) is True
    assert precompile.rewrite_one(str(test)) is False  # valid already: left as it is
    stamp = test.stat()
    # the same size and modification time, other code: pytest (writing no bytecode itself)
    # runs what was kept, so the kept file is the one its importer reads
    test.write_text("def test_it():\n    assert 'pyc' == 'src'\n")
    os.utime(test, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    kept = _run_pytest(tmp_path)
    assert kept.returncode == 0 and "1 passed" in kept.stdout, kept.stdout + kept.stderr
    # a source that changed (its size here) is rewritten from source: the kept code never runs
    test.write_text("def test_it():\n    assert 'pyc' == 'source'\n")
    fresh = _run_pytest(tmp_path)
    assert fresh.returncode == 1 and "AssertionError" in fresh.stdout, fresh.stdout


def test_every_module_pytest_rewrote_here_is_precompiled(pytestconfig):
    # this process's pytest rewrote the test files, conftests, plugins and ape's modules it
    # imported: each must be among those the script writes (a new pytest_plugins entry, a new
    # plugin distribution, a test file name pattern)
    hook = pytestconfig.stash[assertstate_key].hook
    rewritten = {Path(p).resolve() for p in hook._rewritten_names.values()}
    listed = {p.resolve() for p in precompile.own_rewritten() + precompile.plugin_rewritten()}
    assert Path(__file__).resolve() in rewritten
    assert ROOT.joinpath("tests/conftest.py").resolve() in rewritten
    # pytest also rewrites any module it imports whose file name looks like a test file's: a
    # third-party package's module so named (trio's testing/_trio_test.py) is left to it
    by_name = {
        p
        for p in rewritten
        if not any(ROOT / own in p.parents for own in precompile.OWN_PACKAGES)
        and any(fnmatch.fnmatch(p.name, t) for t in precompile.TEST_PATTERNS)
    }
    assert rewritten - by_name <= listed, sorted(str(p) for p in rewritten - by_name - listed)
