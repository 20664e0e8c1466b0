"""The slither gate: fail on any High or Medium finding that the committed triage file does not
explain. Findings are keyed by detector and Contract.function (or Contract.variable), not by
line, so the triage survives edits; a triaged key that no longer fires is reported as stale."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

GATED = {"High", "Medium"}


def finding_key(result: dict) -> str:
    for e in result["elements"]:
        if e["type"] == "function":
            parent = e.get("type_specific_fields", {}).get("parent", {}).get("name", "?")
            return f"{result['check']} {parent}.{e['name']}"
    e = result["elements"][0]
    parent = e.get("type_specific_fields", {}).get("parent", {}).get("name", "?")
    return f"{result['check']} {parent}.{e['name']}"


def main(report: str, triage_file: str) -> int:
    results = json.loads(Path(report).read_text())["results"].get("detectors", [])
    triage = yaml.safe_load(Path(triage_file).read_text()) or []
    known = {f"{t['detector']} {t['where']}": t["reason"] for t in triage}
    missing = [t for t in triage if not str(t.get("reason", "")).strip()]
    if missing:
        print(f"slither gate: triage entries without a reason: {missing}")
        return 1
    gated = [r for r in results if r["impact"] in GATED]
    fired = {finding_key(r) for r in gated}
    untriaged = [r for r in gated if finding_key(r) not in known]
    for r in untriaged:
        print(f"UNTRIAGED {r['impact']}: {finding_key(r)}\n  {r['description'].strip()}\n")
    stale = sorted(set(known) - fired)
    for k in stale:
        print(f"stale triage entry (no longer fires): {k}")
    print(
        f"slither gate: {len(gated)} High/Medium findings, {len(gated) - len(untriaged)} triaged "
        f"as false positives, {len(untriaged)} untriaged"
    )
    return 1 if untriaged else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
