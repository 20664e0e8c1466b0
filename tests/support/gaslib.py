"""Committed gas snapshots (Uniswap v4-core style): a regression shows up as a diff.

Each suite keeps its own file in tests/gas/<name>.json mapping scenario -> gas used. A test
measures its scenarios and calls check_snapshot(name, measured):
- UPDATE_GAS_SNAPSHOT=1 (make gas) rewrites the file;
- otherwise a scenario that costs more than the committed figure by over TOLERANCE fails, one
  that costs less by over TOLERANCE fails too (the committed figure is stale: a README or note
  quoting it would flatter or wrong the code), and a scenario missing from the file fails (run
  `make gas` and commit the diff).

`make gas` runs every test file that calls check_snapshot, whatever its tests are named.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

GAS_DIR = Path(__file__).parents[1] / "gas"
TOLERANCE = 0.01  # 1%: anvil gas is deterministic, this only absorbs calldata-length noise


def check_snapshot(name: str, measured: dict[str, int]) -> None:
    path = GAS_DIR / f"{name}.json"
    measured = {k: int(v) for k, v in sorted(measured.items())}
    if os.environ.get("UPDATE_GAS_SNAPSHOT") == "1":
        old = json.loads(path.read_text()) if path.exists() else {}
        old.update(measured)
        path.write_text(json.dumps(dict(sorted(old.items())), indent=2) + "\n")
        return
    if not path.exists():
        raise AssertionError(f"no gas snapshot {path}: run `make gas` and commit it")
    committed = json.loads(path.read_text())
    problems = []
    for key, gas in measured.items():
        if key not in committed:
            problems.append(f"{key}: {gas} (not in snapshot: run `make gas`)")
        elif gas > committed[key] * (1 + TOLERANCE):
            problems.append(f"{key}: {committed[key]} -> {gas} (+{gas - committed[key]})")
        elif gas < committed[key] * (1 - TOLERANCE):
            problems.append(
                f"{key}: {committed[key]} -> {gas} ({gas - committed[key]}: cheaper, the "
                "committed figure is stale)"
            )
    if problems:
        raise AssertionError(
            "gas snapshot differs from tests/gas/" + name + ".json (run `make gas` and commit "
            "the diff if the change is intended):\n" + "\n".join(problems)
        )
