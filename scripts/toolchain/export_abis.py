"""Export the ABIs the keepers call from ape's build into keepers/abis/ (package data).

    python -m scripts.toolchain.export_abis            # write (make abis)
    python -m scripts.toolchain.export_abis --check    # exit 1 when the files are stale

Reads ``.build/__local__.json`` (``ape compile``); writes ``keepers/abis/<Name>.json`` for every
name in ``keepers.abis.NAMES`` and ``_errors.json`` (every custom error of the build, first
declaring contract per selector, for revert decoding). Files no longer exported are removed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from eth_utils import keccak

from keepers.abis import ERRORS, NAMES, abi_type

BUILD = Path(".build/__local__.json")
OUT = Path("keepers/abis")


def exported(manifest: dict[str, Any]) -> dict[str, Any]:
    """{file stem: content} for the build ``manifest``; raises KeyError naming what is missing."""
    types = manifest.get("contractTypes") or {}
    missing = [n for n in NAMES if n not in types]
    if missing:
        raise KeyError(f"not in the build: {', '.join(missing)} (run `ape compile`)")
    out: dict[str, Any] = {n: types[n]["abi"] for n in NAMES}
    seen: set[bytes] = set()
    errs = []
    for cname, ctype in types.items():
        for item in ctype.get("abi", []):
            if item.get("type") != "error":
                continue
            sig = f"{item['name']}({','.join(abi_type(i) for i in item.get('inputs', []))})"
            selector = keccak(text=sig)[:4]
            if selector in seen:
                continue
            seen.add(selector)
            errs.append({"contract": cname, "name": item["name"], "inputs": item["inputs"]})
    out[ERRORS] = errs
    return out


def render(content: Any) -> str:
    return json.dumps(content, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", type=Path, default=BUILD)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--check", action="store_true", help="only report stale files")
    args = ap.parse_args(argv)
    if not args.build.exists():
        print(f"{args.build} not found: run `make compile`", file=sys.stderr)
        return 2
    want = {f"{k}.json": render(v) for k, v in exported(json.loads(args.build.read_text())).items()}
    have = {p.name: p.read_text() for p in args.out.glob("*.json")}
    stale = sorted(n for n in want if have.get(n) != want[n])
    extra = sorted(set(have) - set(want))
    if args.check:
        for n in stale + extra:
            print(f"stale: {args.out / n} (run `make abis`)", file=sys.stderr)
        return 1 if stale or extra else 0
    for n in stale:
        (args.out / n).write_text(want[n])
    for n in extra:
        (args.out / n).unlink()
    print(f"keepers ABIs: {len(stale)} written, {len(extra)} removed, {len(want)} in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
