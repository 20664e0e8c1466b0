"""tests/support/ape_fork.py: a forked ``ape run`` answers as the console script does."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.ape_fork import ape_run

ROOT = Path(__file__).resolve().parents[3]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEPLOY_", "APE_ACCOUNTS_"))}
    env["APE_DATA_FOLDER"] = str(tmp_path / "ape-home")
    env["PATH"] = f"{ROOT / 'node_modules' / '.bin'}:{ROOT / '.venv' / 'bin'}:{env['PATH']}"
    return env


def test_ape_fork__deploy_help__the_console_scripts_output_and_exit(tmp_path: Path) -> None:
    """The deploy's help (its options as click builds them from the script, the program named
    after ``sys.argv[0]``), forked and as the console script prints it: the same."""
    env = _env(tmp_path)
    forked = ape_run(["deploy", "--help"], env=env, timeout=300)
    real = subprocess.run(
        ["ape", "run", "deploy", "--help"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert real.returncode == 0, real.stderr[-2000:]
    assert (forked.returncode, forked.stdout) == (real.returncode, real.stdout)
    assert "Usage: ape run deploy" in forked.stdout and "--dry-run" in forked.stdout


@pytest.mark.parametrize("flag", ["-v", "--verbosity", "--verbosity=DEBUG"])
def test_ape_fork__verbosity__refused_naming_the_args(flag: str, tmp_path: Path) -> None:
    """ape sets its logger's level from ``sys.argv`` at import, in the server: a forked command
    would not get it, so it is refused (run the console script)."""
    with pytest.raises(ValueError, match="ape reads -v at import"):
        ape_run(["deploy", flag, "DEBUG"], env=_env(tmp_path))


def test_ape_fork__no_ape_on_the_path__refused_naming_the_path(tmp_path: Path) -> None:
    """A command whose PATH holds no ``ape`` is refused before anything is forked, naming the
    PATH it looked in."""
    env = {**_env(tmp_path), "PATH": str(tmp_path)}
    with pytest.raises(FileNotFoundError, match=f"no ape on PATH '{tmp_path}'"):
        ape_run(["deploy", "--help"], env=env)
