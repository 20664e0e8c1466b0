"""The xdist file order (tests/support/file_order.py): longest file first, a file's tests kept
together and in their own order, unknown files at UNKNOWN_S, and the durations file written
by scripts/toolchain/file_durations.py read back."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from scripts.toolchain.file_durations import durations
from tests.support.file_order import UNKNOWN_S, load_durations, longest_first, record_file

ROOT = Path(__file__).resolve().parents[2]


def _items(*names: str) -> list[SimpleNamespace]:
    return [SimpleNamespace(path=ROOT / name.split("::")[0], nodeid=name) for name in names]


def test_longest_first__files_by_duration_tests_keep_their_order():
    items = _items("tests/a.py::t1", "tests/b.py::t1", "tests/a.py::t2", "tests/c.py::t1")
    got = longest_first(items, {"tests/a.py": 1.0, "tests/b.py": 50.0, "tests/c.py": 5.0}, ROOT)
    assert [i.nodeid for i in got] == [
        "tests/b.py::t1",
        "tests/c.py::t1",
        "tests/a.py::t1",
        "tests/a.py::t2",
    ]


def test_longest_first__unknown_file__counts_as_unknown_s_ties_keep_collection_order():
    items = _items("tests/new.py::t", "tests/short.py::t", "tests/long.py::t", "tests/eq.py::t")
    known = {
        "tests/short.py": UNKNOWN_S - 1,
        "tests/long.py": UNKNOWN_S + 1,
        "tests/eq.py": UNKNOWN_S,
    }
    got = longest_first(items, known, ROOT)
    assert [i.nodeid for i in got] == [
        "tests/long.py::t",
        "tests/new.py::t",
        "tests/eq.py::t",
        "tests/short.py::t",
    ]


def test_load_durations__missing_or_broken_file__empty(tmp_path):
    assert load_durations(tmp_path / "none.json") == {}
    (tmp_path / "bad.json").write_text("[1, 2")
    assert load_durations(tmp_path / "bad.json") == {}


def test_durations__junit_report__seconds_per_file(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    report = tmp_path / "r.xml"
    report.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="tests.offchain.test_file_order" name="a" time="1.25"/>'
        '<testcase classname="tests.offchain.test_file_order" name="b" time="2.5"/>'
        '<testcase classname="tests.conftest" name="x" time="4"/>'
        '<testcase classname="no.such.module" name="c" time="9"/>'
        "</testsuite></testsuites>"
    )
    got = durations(report)
    assert got == {"tests/offchain/test_file_order.py": 3.8, "tests/conftest.py": 4.0}


def test_committed_durations__every_listed_file_exists():
    """A renamed file would silently lose its place: the committed list names real files."""
    listed = json.loads((ROOT / "tests" / "file_durations.json").read_text())
    assert listed, "tests/file_durations.json is empty"
    missing = [f for f in listed if not (ROOT / f).is_file()]
    assert not missing, f"run `make test` then `make test-durations`: stale entries {missing}"


def test_record_file__each_file_once_per_run_of_its_tests_in_the_order_run(tmp_path):
    order = tmp_path / "gw0.txt"
    for nodeid in ("tests/a.py::t1", "tests/a.py::t2[x]", "tests/b.py::t1", "tests/a.py::t3"):
        record_file(order, nodeid)
    assert order.read_text().splitlines() == ["tests/a.py", "tests/b.py", "tests/a.py"]


class _Worker:
    """A stand-in for xdist's WorkerController: records the test indexes it is sent."""

    shutting_down = False

    def __init__(self) -> None:
        self.sent: list[int] = []

    def send_runtest_some(self, indexes: list[int]) -> None:
        self.sent.extend(indexes)

    def shutdown(self) -> None:
        self.shutting_down = True


def test_xdist_loadfile__controller_keeps_the_longest_first_order():
    """xdist's real loadfile scheduler, configured as this plugin leaves it, hands the files out
    in the workers' collection order (longest first), not by number of tests: a long file with
    one test goes first. Without the plugin's ``pytest_configure`` it went last."""
    from xdist.scheduler import LoadFileScheduling

    from tests.support import file_order

    option = SimpleNamespace(dist="loadfile", loadscopereorder=True, tx=["1*popen"])
    config = SimpleNamespace(option=option, getvalue=lambda name: getattr(option, name))
    file_order.pytest_configure(config)
    sched = LoadFileScheduling(config)  # type: ignore[arg-type]
    worker = _Worker()
    sched.add_node(worker)  # type: ignore[arg-type]
    # longest first, as the workers collected it: a 1-test file, then a 3-test one, then 2
    collection = ["long.py::t", "mid.py::a", "mid.py::b", "mid.py::c", "short.py::a", "short.py::b"]
    sched.add_node_collection(worker, collection)  # type: ignore[arg-type]
    sched.schedule()
    while sched.workqueue:
        sched._reschedule(worker)  # type: ignore[arg-type]
        worker.shutting_down = False
        for i in list(worker.sent):
            sched.mark_test_complete(worker, i)  # type: ignore[arg-type]
    files = list(dict.fromkeys(collection[i].split("::")[0] for i in worker.sent))
    assert files == ["long.py", "mid.py", "short.py"], files
