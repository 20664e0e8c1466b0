"""Write the standard-json input that slither reads through crytic-compile's solc-json mode:
every production contract under contracts/ (not contracts/test/), imports remapped to the npm
packages (the same sources ape compiles from), the project's compiler settings."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
REMAPPINGS = [
    "@openzeppelin/contracts/=node_modules/@openzeppelin/contracts/",
    "@chainlink/contracts/=node_modules/@chainlink/contracts/",
    "@layerzerolabs/oft-evm/=node_modules/@layerzerolabs/oft-evm/",
    "@layerzerolabs/oapp-evm/=node_modules/@layerzerolabs/oapp-evm/",
    "@layerzerolabs/lz-evm-protocol-v2/=node_modules/@layerzerolabs/lz-evm-protocol-v2/",
    "@layerzerolabs/lz-evm-messagelib-v2/=node_modules/@layerzerolabs/lz-evm-messagelib-v2/",
    "solidity-bytes-utils/=node_modules/solidity-bytes-utils/",
]


def main(out: str) -> None:
    cfg = yaml.safe_load((ROOT / "ape-config.yaml").read_text())["solidity"]
    sources = {
        str(p.relative_to(ROOT)): {"content": p.read_text()}
        for p in sorted((ROOT / "contracts").rglob("*.sol"))
        if "test" not in p.relative_to(ROOT / "contracts").parts[:1] and ".cache" not in p.parts
    }
    doc = {
        "language": "Solidity",
        "sources": sources,
        "settings": {
            "remappings": REMAPPINGS,
            "optimizer": {
                "enabled": bool(cfg.get("optimize", True)),
                "runs": cfg.get("optimization_runs", 200),
            },
            "evmVersion": cfg.get("evm_version", "cancun"),
            "outputSelection": {
                "*": {
                    # no bytecode: slither's detectors read the ASTs, and a compile without
                    # code generation takes a fraction of the time (slither.sh)
                    "*": ["abi"],
                    "": ["ast"],
                }
            },
        },
    }
    Path(out).write_text(json.dumps(doc))


if __name__ == "__main__":
    main(sys.argv[1])
