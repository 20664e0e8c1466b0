"""Writes tests/file_durations.json from a JUnit XML report of the ape suite (`make test` keeps
one in .build/test-results.xml): seconds per test file, setup and teardown included, rounded.
tests/support/file_order.py hands the files to the xdist workers longest first with it.

usage: python scripts/toolchain/file_durations.py [.build/test-results.xml] [tests/file_durations.json]
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path


def durations(report: Path) -> dict[str, float]:
    per_file: dict[str, float] = defaultdict(float)
    for case in ET.parse(report).iter("testcase"):
        module = case.get("classname", "")
        # classname is the dotted module (plus the class for tests in a class)
        parts = module.split(".")
        while parts and not Path(*parts).with_suffix(".py").exists():
            parts.pop()
        if not parts:
            continue
        per_file[str(Path(*parts).with_suffix(".py"))] += float(case.get("time", 0))
    return {k: round(v, 1) for k, v in sorted(per_file.items())}


def main(argv: list[str]) -> int:
    report = Path(argv[1] if len(argv) > 1 else ".build/test-results.xml")
    out = Path(argv[2] if len(argv) > 2 else "tests/file_durations.json")
    if not report.is_file():
        print(f"file_durations: no report at {report} (run `make test` first)", file=sys.stderr)
        return 2
    data = durations(report)
    out.write_text(json.dumps(data, indent=1) + "\n")
    print(f"file_durations: {len(data)} files, {sum(data.values()):.0f} s in all -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
