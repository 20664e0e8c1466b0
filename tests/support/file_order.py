"""pytest plugin (tests/conftest.py's ``pytest_plugins``): under pytest-xdist, the test files
are handed to the workers longest first.

``make test`` runs the suite with ``--dist loadfile``: a file stays on one worker, and the
workers take files in collection order (alphabetical). The longest files (the demo's month,
the operator's path, the deploy tests) sit in the second half of the alphabet, so a worker
could start one of them when the other was nearly done, and the run ended on one busy worker.
Longest first (the classic LPT order) ends the run with the short files, on both workers.
xdist's controller would sort the files again by their number of tests (``pytest_configure``
below turns that off).

Durations come from tests/file_durations.json (seconds per file of a measured run; refresh it
with ``make test-durations`` after a ``make test``); a file it does not list counts as
``UNKNOWN_S`` (a new file is not put last by default). The order inside a file is never
changed (module fixtures and the tests' own order stay as written). A single-process run
keeps pytest's order.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

DURATIONS = Path(__file__).resolve().parents[1] / "file_durations.json"
UNKNOWN_S = 20.0


def load_durations(path: Path = DURATIONS) -> dict[str, float]:
    try:
        return {str(k): float(v) for k, v in json.loads(path.read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def longest_first(items: list[Any], durations: dict[str, float], root: Path) -> list[Any]:
    """``items`` regrouped by file, files in decreasing duration (ties: collection order),
    each file's items in their own order."""
    files: dict[str, list[Any]] = {}
    for item in items:
        try:
            rel = str(Path(item.path).resolve().relative_to(root))
        except ValueError:
            rel = str(item.path)
        files.setdefault(rel, []).append(item)
    order = sorted(files, key=lambda f: -durations.get(f, UNKNOWN_S))  # sorted() is stable
    return [item for f in order for item in files[f]]


def pytest_configure(config: Any) -> None:
    """Under ``--dist loadfile`` (or ``loadscope``) xdist's controller hands the files out by
    their number of tests, most first, unless ``--no-loadscope-reorder`` is given: it would undo
    the order set below, and the suite's longest files, which have one or two tests each (the
    operator's walk, the chaos month, the Safe deploy), were handed out last. So the
    controller keeps the workers' collection order."""
    if getattr(config.option, "dist", None) in ("loadfile", "loadscope"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(session: Any, config: Any, items: list[Any]) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    items[:] = longest_first(items, load_durations(), Path(config.rootpath).resolve())


# Each worker writes the files it ran, in order, to .build/worker-order/<worker>.txt: the
# files share the worker's anvil (module fixtures are reverted, not restarted), so a test that
# fails only after some other file is told apart by what ran before it on its worker.
# scripts/toolchain/test.sh clears the folder before the suite and prints the order of a worker
# that had a failure at the end.
ORDER_DIR = Path(__file__).resolve().parents[2] / ".build" / "worker-order"


def record_file(order: Path, nodeid: str) -> None:
    """Appends the test's file to ``order`` unless it is the file last written there."""
    file = nodeid.split("::", 1)[0]
    lines = order.read_text().splitlines() if order.exists() else []
    if not lines or lines[-1] != file:
        with open(order, "a") as out:
            out.write(file + "\n")


def pytest_sessionstart(session: Any) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:  # this run's order only
        (ORDER_DIR / f"{worker}.txt").unlink(missing_ok=True)


def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        ORDER_DIR.mkdir(parents=True, exist_ok=True)
        record_file(ORDER_DIR / f"{worker}.txt", nodeid)
