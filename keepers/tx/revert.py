"""Decode revert data: custom errors of the build (``keepers.abis.errors()``, exported by
``make abis``), Error(string), Panic."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak

from keepers import abis
from keepers.abis import abi_type

ERROR_STRING = bytes.fromhex("08c379a0")
PANIC = bytes.fromhex("4e487b71")


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
    """A selector -> custom error map of the build's errors (``keepers.abis.errors()``)."""

    def __init__(self, errors: dict[bytes, ErrorSpec] | None = None) -> None:
        self.errors: dict[bytes, ErrorSpec] = errors or {}

    @classmethod
    def from_abi_errors(cls, items: list[dict[str, Any]]) -> RevertDecoder:
        """From ``{"contract", "name", "inputs"}`` entries; the first one wins per selector."""
        errors: dict[bytes, ErrorSpec] = {}
        for item in items:
            types = tuple(abi_type(i) for i in item.get("inputs", []))
            selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
            names = tuple(i.get("name", "") for i in item.get("inputs", []))
            errors.setdefault(
                selector, ErrorSpec(str(item.get("contract", "")), item["name"], types, names)
            )
        return cls(errors)

    @classmethod
    def default(cls) -> RevertDecoder:
        """Every custom error of the project (shared, built once)."""
        return _default()

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


@cache
def _default() -> RevertDecoder:
    return RevertDecoder.from_abi_errors(abis.errors())
