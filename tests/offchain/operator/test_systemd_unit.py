"""Issue 48, nothing from the dev toolchain at run time: the shipped systemd unit
(deploy/systemd/ballast-keeper.service) works as shipped.

- ``systemd-analyze verify`` (Debian's ``systemd`` package; .ci/run installs it when missing)
  accepts the unit, unchanged, on a root laid out as running.md says a host is: the runtime
  wheel's venv at ``/opt/ballast/.venv`` (its ``keeper`` console script, the one the clean venv
  of tests/support/runtime_venv.py has), the settings at ``/etc/ballast/keeper.env`` (mode
  600); and refuses it when ``ExecStart`` names no executable there (the check can fail).
- The keeper starts from the unit's own ``ExecStart``, ``WorkingDirectory``, ``Environment=``
  and ``EnvironmentFile=`` with the PATH systemd gives a service (the unit sets none: no venv,
  no node_modules, no anvil on it), reads the operator's settings from the environment file
  (a bad one is refused with exit 2 naming it, which the unit does not restart), and runs
  ``keeper status`` as far as the deployment record with nothing of the dev toolchain on its
  PATH.

The whole operator path through the same unit's environment is the walk
(test_operator_walk.py)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.anvil_node import start_anvil
from tests.support.runtime_venv import runtime_venv
from tests.support.systemd_unit import (
    SYSTEMD_DEFAULT_PATH,
    UNIT,
    exec_start,
    service_env,
    setting,
    working_directory,
    write_environment_file,
)

ANALYZE = shutil.which("systemd-analyze") or (
    "/usr/bin/systemd-analyze" if Path("/usr/bin/systemd-analyze").exists() else None
)
SYSTEM_UNITS = Path("/usr/lib/systemd/system")


@pytest.fixture(scope="module")
def venv() -> Path:
    return runtime_venv()


def host_root(root: Path, venv: Path, *, keeper: bool = True) -> Path:
    """A root for ``systemd-analyze --root``: systemd's own units (copied: a symlink would be
    resolved inside the root), the shipped unit where the install lines put it, the keeper's
    console script at /opt/ballast/.venv/bin/keeper, an empty /etc/ballast/keeper.env."""
    shutil.copytree(SYSTEM_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    shutil.copy2(UNIT, root / "etc/systemd/system" / UNIT.name)
    (root / "opt/ballast/.venv/bin").mkdir(parents=True)
    if keeper:
        shutil.copy2(venv / "bin" / "keeper", root / "opt/ballast/.venv/bin/keeper")
    (root / "var/lib/ballast").mkdir(parents=True)
    (root / "etc/ballast").mkdir(parents=True)
    write_environment_file(root / "etc/ballast/keeper.env", {})
    return root / "etc/systemd/system" / UNIT.name


def verify(root: Path, unit: Path) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    return subprocess.run(
        [ANALYZE, "verify", "--man=no", f"--root={root}", str(unit)],
        capture_output=True, text=True, timeout=120, cwd=root,
    )  # fmt: skip


@pytest.mark.skipif(ANALYZE is None, reason="no systemd-analyze (Debian's systemd package)")
@pytest.mark.skipif(not SYSTEM_UNITS.is_dir(), reason="no /usr/lib/systemd/system")
def test_systemd_analyze_verify__shipped_unit_on_the_documented_layout__clean(
    venv: Path, tmp_path: Path
) -> None:
    unit = host_root(tmp_path / "root", venv)
    r = verify(tmp_path / "root", unit)
    assert r.returncode == 0 and r.stdout + r.stderr == "", r.stdout + r.stderr
    # the same unit where the venv is not installed: refused, naming the command
    bare = host_root(tmp_path / "bare", venv, keeper=False)
    r = verify(tmp_path / "bare", bare)
    assert r.returncode != 0
    assert "/opt/ballast/.venv/bin/keeper is not executable" in r.stdout + r.stderr


def test_unit__sets_no_path_and_runs_the_venvs_keeper_by_absolute_path() -> None:
    """Nothing on the service's PATH is needed: ExecStart names the venv's keeper itself, and
    the simulator needs no binary (KEEPER_SIMULATOR's node method; the fork fallback takes an
    absolute KEEPER_ANVIL_BIN, never the PATH)."""
    env = " ".join(setting("Environment"))
    assert "PATH=" not in env
    (cmd,) = setting("ExecStart")
    assert cmd == "/opt/ballast/.venv/bin/keeper run"
    assert setting("EnvironmentFile") == ["/etc/ballast/keeper.env"]
    assert setting("WorkingDirectory") == ["/opt/ballast"]
    assert "2" in setting("RestartPreventExitStatus")[0].split()


def test_unit__store_and_keyfile_where_its_sandbox_lets_the_keeper_reach_them(
    tmp_path: Path,
) -> None:
    """ProtectSystem=strict leaves the keeper one writable directory (ReadWritePaths /
    StateDirectory) and ProtectHome hides every home: the unit's default store (SQLite writes
    its -wal and -shm beside it) must be in that directory, and the ape keyfile
    (KEEPER_SIGNER_KIND=ape) outside the homes. Before the unit set them, the store was
    ./keeper.db in the read-only /opt/ballast and the keyfile ~/.ape's."""
    assert setting("ProtectSystem") == ["strict"] and setting("ProtectHome") == ["true"]
    writable = [*setting("ReadWritePaths"), *(f"/var/lib/{d}" for d in setting("StateDirectory"))]
    write_environment_file(tmp_path / "keeper.env", {})  # the operator's file sets neither
    env = service_env({"/etc/ballast": tmp_path})
    db = env["KEEPER_DB_URL"]
    assert db.startswith("sqlite:////"), db
    store_dir = str(Path(db.removeprefix("sqlite:///")).parent)
    assert store_dir in writable, (store_dir, writable)
    ape = env["APE_DATA_FOLDER"]
    assert not ape.startswith(("/home", "/root", "/run/user")), ape
    assert any(ape == w or ape.startswith(w + "/") for w in writable), (ape, writable)


def test_unit__keeper_started_as_systemd_does__reads_the_environment_file(
    venv: Path, tmp_path: Path
) -> None:
    """ExecStart with the service's environment: systemd's default PATH (no venv, no
    node_modules), the unit's Environment=, the operator's environment file. A bad setting in
    the file is refused with exit 2 naming it (RestartPreventExitStatus: not restarted);
    pointed at a node, the keeper gets as far as the deployment record the file names (none
    there: exit 2 naming KEEPER_DEPLOYMENT), with no import missing and no traceback."""
    host, etc = tmp_path / "opt-ballast", tmp_path / "etc-ballast"
    host.mkdir()
    etc.mkdir()
    mapping = {"/opt/ballast/.venv": venv, "/opt/ballast": host, "/etc/ballast": etc}
    argv = exec_start(mapping)
    assert argv == [str(venv / "bin" / "keeper"), "run"]
    assert working_directory(mapping) == str(host)
    for tool in ("ape", "anvil"):  # not on the service's PATH here either
        assert shutil.which(tool, path=SYSTEMD_DEFAULT_PATH) is None, tool

    write_environment_file(
        etc / "keeper.env",
        {"KEEPER_DB_URL": f"sqlite:///{host}/keeper.db", "KEEPER_CHAIN_ID": "not-a-chain",
         "KEEPER_SIGNER_KEY": "0x" + "11" * 32},
    )  # fmt: skip
    env = {**service_env(mapping), "HOME": str(tmp_path)}
    assert env["PATH"] == SYSTEMD_DEFAULT_PATH and env["KEEPER_LOG_JSON"] == "true"
    r = subprocess.run(
        [*argv, "--once"], env=env, cwd=host, capture_output=True, text=True, timeout=180
    )
    assert r.returncode == 2, r.stdout[-2000:] + r.stderr[-2000:]
    assert "KEEPER_CHAIN_ID='not-a-chain'" in r.stdout + r.stderr
    assert "11" * 32 not in r.stdout + r.stderr

    proc, url, _ = start_anvil()
    try:
        write_environment_file(
            etc / "keeper.env",
            {"KEEPER_RPC_URL": url, "KEEPER_DB_URL": f"sqlite:///{host}/keeper.db",
             "KEEPER_SIGNER_KEY": "0x" + "11" * 32,
             "KEEPER_DEPLOYMENT": str(host / "missing.json")},
        )  # fmt: skip
        env = {**service_env(mapping), "HOME": str(tmp_path)}
        r = subprocess.run(
            [argv[0], "status"], env=env, cwd=host, capture_output=True, text=True, timeout=180
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    out = r.stdout + r.stderr
    assert "Traceback" not in out and "ModuleNotFoundError" not in out, out[-3000:]
    assert r.returncode == 2 and "KEEPER_DEPLOYMENT" in out, out[-3000:]
