"""The long-lived processes set the collector once started (keepers.core.gc_tuning): checked in a
child process, so the test run's own collector is left as it is."""

from __future__ import annotations

import subprocess
import sys

CHILD = """
import gc
from keepers.core.gc_tuning import THRESHOLDS, tune_gc
before = gc.get_freeze_count()
old = tune_gc()
assert old == (700, 10, 10), old
assert gc.get_threshold() == THRESHOLDS, gc.get_threshold()
assert gc.get_freeze_count() > before, "the start-up heap was not frozen"
print("ok")
"""


def test_tune_gc__freezes_the_start_up_heap_and_raises_the_thresholds():
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=False)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
