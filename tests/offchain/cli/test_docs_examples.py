"""The operator guide's examples marked ``<!-- example: local -->`` (docs/operator/), run as an
operator would type them: each block a bash script (``set -e``: every command must exit 0), in
order, in one working directory, with the environment of a running keeper pointed at the
deployed local fund on this worker's anvil. The store is a relative ``sqlite:///keeper.db``, so
the backup example backs up the store the earlier examples wrote."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.docs_examples import examples


def test_local_examples_run_against_the_local_fund(env: dict[str, str], tmp_path: Path) -> None:
    local = [e for e in examples() if e.local]
    assert len(local) >= 2, "the operator guide has local examples"
    bindir = str(Path(sys.executable).parent)
    run_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KEEPER_", "REBALANCE_"))},
        **env,
        "KEEPER_DB_URL": "sqlite:///keeper.db",
        "PATH": bindir + os.pathsep + os.environ.get("PATH", ""),
    }
    for e in local:
        r = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", e.code],
            cwd=tmp_path,
            env=run_env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, f"{e.page}:{e.line} exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert (tmp_path / "keeper.db").exists()
    backups = list(tmp_path.glob("keeper-*.db"))
    assert len(backups) == 1 and backups[0].stat().st_size > 0  # the backup example ran
