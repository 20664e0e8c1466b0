"""Each test file's CPU (tests/support/file_cpu.py) and its report (scripts/toolchain/file_cpu.py):
a file's rows from its first test to the next file's, its own and its reaped subprocesses' CPU
measured where they are spent, every worker's rows summed per file and per folder, most CPU
first."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from scripts.toolchain.file_cpu import folder_of, load, main, report
from tests.support.file_cpu import FileCpu


class Clock:
    """A fake ``(own, children, wall)`` clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = [0.0, 0.0, 0.0]

    def __call__(self) -> tuple[float, float, float]:
        return (self.now[0], self.now[1], self.now[2])

    def spend(self, own: float, kids: float, wall: float) -> None:
        self.now = [self.now[0] + own, self.now[1] + kids, self.now[2] + wall]


def test_rows__each_file_from_its_first_test_to_the_next_files__a_file_met_again_adds():
    clock = Clock()
    run = FileCpu(clock)
    run.test_starts("tests/a.py::t1")
    clock.spend(1.0, 0.0, 2.0)
    run.test_starts("tests/a.py::t2")  # the same file: its row goes on
    clock.spend(0.5, 3.0, 4.0)
    run.test_starts("tests/b.py::T::t1")
    clock.spend(0.25, 0.0, 0.5)
    run.test_starts("tests/a.py::t3")  # met again (a single process's plugin order)
    clock.spend(1.0, 1.0, 1.0)
    rows = run.finish()  # the last file closed at the end
    assert rows == {"tests/a.py": [2.5, 4.0, 7.0, 3], "tests/b.py": [0.25, 0.0, 0.5, 1]}
    clock.spend(9.0, 9.0, 9.0)
    assert run.finish() == rows  # nothing counted after the end


def test_rows__real_clock__own_cpu_and_a_reaped_subprocess_counted_to_their_file():
    run = FileCpu()
    run.test_starts("tests/own.py::t")
    t = time.process_time()
    while time.process_time() - t < 0.3:  # CPU in this process
        pass
    run.test_starts("tests/kids.py::t")
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.4: pass\n"
    subprocess.run([sys.executable, "-c", burn], check=True)  # reaped: the children's CPU
    rows = run.finish()
    assert rows["tests/own.py"][0] >= 0.25 and rows["tests/own.py"][1] < 0.1
    assert rows["tests/kids.py"][1] >= 0.35


def _write(folder: Path, worker: str, rows: dict[str, list[float]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{worker}.json").write_text(json.dumps(rows))


def test_report__workers_summed_per_file_and_folder__most_cpu_first(tmp_path: Path):
    cpu = tmp_path / "file-cpu"
    _write(cpu, "gw0", {"tests/contracts/fund/test_a.py": [10.0, 0.0, 20.0, 5],
                        "tests/offchain/test_top.py": [1.0, 0.5, 2.0, 3]})  # fmt: skip
    _write(cpu, "gw1", {"tests/offchain/deploy/test_d.py": [0.5, 30.0, 40.0, 1],
                        "tests/contracts/fund/test_b.py": [4.0, 0.0, 5.0, 2]})  # fmt: skip
    _write(cpu, "gw2", {"tests/contracts/fund/test_a.py": [2.0, 1.0, 3.0, 1]})  # a rerun
    rows = load(cpu)
    assert rows["tests/contracts/fund/test_a.py"] == [12.0, 1.0, 23.0, 6]
    text = report(rows, 2)
    lines = text.splitlines()
    assert lines[0].startswith("CPU of the test files: 49 CPU-s (18 in the workers, 32 in the")
    assert "4 files, 12 tests" in lines[0]
    # the two files that cost most, most first; n=2 leaves the rest out
    assert lines[2].split() == [
        "30.5",
        "0.5",
        "30.0",
        "40.0",
        "1",
        "tests/offchain/deploy/test_d.py",
    ]
    assert lines[3].split()[0] == "13.0" and lines[3].endswith("tests/contracts/fund/test_a.py")
    assert "tests/contracts/fund/test_b.py" not in text
    assert lines[4] == "by folder:"
    assert lines[5].endswith("tests/offchain/deploy") and lines[6].split()[0] == "17.0"
    assert lines[6].endswith("tests/contracts/fund")
    assert folder_of("tests/offchain/test_top.py") == "tests/offchain/test_top.py"


def test_main__no_rows_or_a_bad_count__exit_2_naming_it(tmp_path: Path, capsys):
    assert main(["file_cpu", str(tmp_path / "missing")]) == 2
    assert "no rows in" in capsys.readouterr().err
    _write(tmp_path / "cpu", "gw0", {"tests/a.py": [1.0, 0.0, 1.0, 1]})
    assert main(["file_cpu", str(tmp_path / "cpu"), "many"]) == 2
    assert "N files must be a whole number, got 'many'" in capsys.readouterr().err
    assert main(["file_cpu", str(tmp_path / "cpu"), "5"]) == 0
    assert "tests/a.py" in capsys.readouterr().out


def test_written_only_where_asked__never_by_a_session_a_test_starts(tmp_path: Path):
    """A process records only with ``BALLAST_FILE_CPU_DIR`` set (make test's suite; not a run by
    hand, not the fork rehearsal's pytest) and writes its rows there at the end; a session a
    test starts in a subprocess inherits the owner variable the first test set and writes
    nothing (its CPU is that test's children's already)."""
    import os

    from tests.support import file_cpu

    root = Path(__file__).resolve().parents[2]
    run = (
        "import tests.support.file_cpu as f\n"
        "from types import SimpleNamespace as N\n"
        "f.pytest_runtest_protocol(N(nodeid='tests/x.py::t'), None)\n"
        "f.pytest_sessionfinish(None)\n"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in (file_cpu.OWNER, file_cpu.DIR_VAR, "PYTEST_XDIST_WORKER")
    }

    def go(**extra: str) -> list[str]:
        out = tmp_path / "cpu"
        subprocess.run(
            [sys.executable, "-c", run], cwd=root, env=env | extra, check=True, timeout=60
        )
        found = sorted(p.name for p in out.glob("*.json")) if out.is_dir() else []
        for p in found:
            (out / p).unlink()
        return found

    assert go() == []  # not asked
    written = go(BALLAST_FILE_CPU_DIR=str(tmp_path / "cpu"))
    assert len(written) == 1 and written[0].startswith("main-")
    assert go(BALLAST_FILE_CPU_DIR=str(tmp_path / "cpu"), PYTEST_XDIST_WORKER="gw7") == ["gw7.json"]
    nested = {"BALLAST_FILE_CPU_DIR": str(tmp_path / "cpu"), file_cpu.OWNER: "1"}
    assert go(**nested) == []
