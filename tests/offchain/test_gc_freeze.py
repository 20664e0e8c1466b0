"""tests/support/ape_speedups.py freezes the test process's heap out of the collector's full
scans (after collection, and at each test file's start): checked in a pytest of its own on two
test files, so the run's own collector is left as it is. A test file's cyclic garbage is still
freed (its module fixture's objects are gone before the freeze), and the heap is frozen."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FIRST = """
import weakref
import pytest

REFS = []


class Node:
    pass


@pytest.fixture(scope="module")
def cyclic():
    node = Node()
    node.me = node  # garbage only a collection frees, once the fixture lets it go
    REFS.append(weakref.ref(node))
    yield node


def test_first(cyclic):
    assert cyclic.me is cyclic
"""

SECOND = """
import gc

import test_first


def test_second():
    assert gc.get_freeze_count() > 10_000  # ape, web3, the collected tests: frozen
    assert test_first.REFS and test_first.REFS[0]() is None  # collected, never frozen
"""


def test_heap_frozen__a_files_cyclic_garbage_still_freed(tmp_path):
    (tmp_path / "test_first.py").write_text(FIRST)
    (tmp_path / "test_second.py").write_text(SECOND)
    env = {
        **os.environ,
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # ape's own plugin and the rest are not needed
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)]),
    }
    env.pop("BALLAST_APE_SPEEDUPS", None)
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
        + ["-p", "tests.support.ape_speedups", "test_first.py", "test_second.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0 and "2 passed" in out.stdout, out.stdout[-3000:] + out.stderr[-2000:]
