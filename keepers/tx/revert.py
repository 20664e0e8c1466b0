"""Decode revert data: custom errors from the project's compiled ABIs, Error(string), Panic."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak

ERROR_STRING = bytes.fromhex("08c379a0")
PANIC = bytes.fromhex("4e487b71")


def _type_str(item: dict[str, Any]) -> str:
    t = str(item["type"])
    if t.startswith("tuple"):
        inner = ",".join(_type_str(c) for c in item.get("components", []))
        return f"({inner}){t[5:]}"
    return t


@dataclass(frozen=True)
class ErrorSpec:
    contract: str
    name: str
    types: tuple[str, ...]
    arg_names: tuple[str, ...]


@dataclass(frozen=True)
class DecodedRevert:
    name: str
    args: tuple[Any, ...]
    arg_names: tuple[str, ...] = ()
    selector: str = ""

    def __str__(self) -> str:
        if self.name == "Error" and self.args:
            return f"Error({self.args[0]!r})"
        if not self.args:
            return f"{self.name}()"
        pairs = (
            f"{n}={a!r}" if n else repr(a)
            for n, a in zip(self.arg_names or ("",) * len(self.args), self.args, strict=False)
        )
        return f"{self.name}({', '.join(pairs)})"


class RevertDecoder:
    """A selector -> custom error map built from ape's ``.build/__local__.json``."""

    def __init__(self, errors: dict[bytes, ErrorSpec] | None = None) -> None:
        self.errors: dict[bytes, ErrorSpec] = errors or {}

    @classmethod
    def from_artifacts(cls, path: Path | str) -> RevertDecoder:
        path = Path(path)
        if not path.exists():
            return cls()
        manifest = json.loads(path.read_text())
        errors: dict[bytes, ErrorSpec] = {}
        for cname, ctype in (manifest.get("contractTypes") or {}).items():
            for item in ctype.get("abi", []):
                if item.get("type") != "error":
                    continue
                types = tuple(_type_str(i) for i in item.get("inputs", []))
                selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
                names = tuple(i.get("name", "") for i in item.get("inputs", []))
                errors.setdefault(selector, ErrorSpec(cname, item["name"], types, names))
        return cls(errors)

    def decode(self, data: str | bytes | None) -> DecodedRevert | None:
        """Decode revert data; None when there is none (a bare revert)."""
        if data is None:
            return None
        raw = (
            bytes.fromhex(data[2:] if data.startswith("0x") else data)
            if isinstance(data, str)
            else bytes(data)
        )
        if len(raw) < 4:
            return None
        sel, body = raw[:4], raw[4:]
        try:
            if sel == ERROR_STRING:
                return DecodedRevert(
                    "Error", tuple(abi_decode(["string"], body)), ("",), "0x08c379a0"
                )
            if sel == PANIC:
                (code,) = abi_decode(["uint256"], body)
                return DecodedRevert("Panic", (hex(code),), ("",), "0x4e487b71")
            spec = self.errors.get(sel)
            if spec is not None:
                args = tuple(abi_decode(list(spec.types), body))
                return DecodedRevert(spec.name, args, spec.arg_names, "0x" + sel.hex())
        except Exception:  # noqa: BLE001 - malformed data: fall through to the raw selector
            pass
        return DecodedRevert(f"UnknownError[0x{sel.hex()}]", (), (), "0x" + sel.hex())

    def describe(self, data: str | bytes | None) -> str:
        decoded = self.decode(data)
        return "revert without data" if decoded is None else str(decoded)
