"""Batched contract reads: many ``eth_call`` s at one block in one JSON-RPC round trip, encoded
and decoded with eth_abi from the ABI, each function's selector and types resolved once.

Why not web3's contract objects: each ``contract.functions.f(args)`` looks its ABI entry up
again, re-derives the selector (a keccak per overload considered) and, for ``.call()``, runs
the request through the validation and formatting middleware: about 1 ms of CPU per read on
these machines, 59 reads a planning tick (read, depth, holds). Here a read is the calldata
(selector + eth_abi.encode) and a decode; results are normalised as web3 returns them
(addresses checksummed, one output unwrapped, several as a tuple), which
tests/offchain/test_reads.py checks against web3's own encoding and decoding.

A read that fails fails alone: ``call_many`` gives each item its value or a ``ReadFailed``
(the caller says "not read" for that item only); ``call_all`` raises the first failure, as
web3's batch did (a revert as web3's ``ContractLogicError``, no or an undecodable answer as its
``BadFunctionCallOutput``, so callers' handlers stay)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from eth_abi import decode, encode
from eth_abi.grammar import BasicType, TupleType, parse
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from eth_utils.abi import collapse_if_tuple
from web3 import Web3
from web3.exceptions import BadFunctionCallOutput, ContractLogicError, Web3RPCError

from keepers import abis


@dataclass(frozen=True)
class Fn:
    """One contract function's encoder and decoder: built once, used for every read."""

    name: str
    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> Fn:
        """From an ABI entry (a dict of the contract's ABI or a hand-written fragment)."""
        inputs = tuple(collapse_if_tuple(dict(i)) for i in entry.get("inputs", []))
        outputs = tuple(collapse_if_tuple(dict(o)) for o in entry.get("outputs", []))
        selector = function_signature_to_4byte_selector(f"{entry['name']}({','.join(inputs)})")
        return cls(str(entry["name"]), selector, inputs, outputs)

    def calldata(self, *args: Any) -> str:
        if len(args) != len(self.inputs):
            raise TypeError(f"{self.name} takes {len(self.inputs)} arguments, got {len(args)}")
        return "0x" + (self.selector + encode(self.inputs, args)).hex()

    def result(self, data: bytes) -> Any:
        """The decoded return data, as web3's ``.call()`` gives it."""
        values = decode(self.outputs, data)
        out = tuple(_normalise(t, v) for t, v in zip(self.outputs, values, strict=True))
        return out[0] if len(out) == 1 else out


@cache
def fn(abi_name: str, name: str, arity: int | None = None) -> Fn:
    """The function ``name`` of the exported ABI ``abi_name`` (keepers.abis), the one taking
    ``arity`` arguments where it is overloaded."""
    entries = [
        e
        for e in abis.load(abi_name)
        if e.get("type") == "function"
        and e.get("name") == name
        and (arity is None or len(e.get("inputs", [])) == arity)
    ]
    if len(entries) != 1:
        raise ValueError(f"{abi_name}.{name}: {len(entries)} functions match (give arity)")
    return Fn.from_entry(entries[0])


@dataclass(frozen=True)
class Read:
    """``fn(*args)`` on the contract at ``to``."""

    to: str
    fn: Fn
    args: tuple[Any, ...] = ()

    def request(self, block: int | str) -> tuple[str, list[Any]]:
        tag = hex(block) if isinstance(block, int) else block
        return ("eth_call", [{"to": self.to, "data": self.fn.calldata(*self.args)}, tag])


@dataclass(frozen=True)
class ReadFailed:
    """A read that did not answer: reverted (``reverted``, with its data), answered nothing or
    something its ABI cannot decode (``bad_output``: no code at the address, another contract),
    or refused by the node. Never a value: the caller says "not read" for that item."""

    what: str
    message: str
    data: str | None = None
    reverted: bool = False
    bad_output: bool = False

    def error(self) -> Exception:
        """As web3's ``.call()`` raises it: a revert as ``ContractLogicError``, no or an
        undecodable answer as ``BadFunctionCallOutput``, the node's refusal as
        ``Web3RPCError``."""
        if self.reverted:
            return ContractLogicError(f"{self.what}: {self.message}", data=self.data)
        if self.bad_output:
            return BadFunctionCallOutput(f"{self.what}: {self.message}")
        return Web3RPCError(f"{self.what}: {self.message}")


def call_many(w3: Web3, reads: Sequence[Read], block: int | str) -> list[Any]:
    """Each read's value, or its ``ReadFailed``, in one JSON-RPC batch. A transport failure
    (the node gone, a timeout) raises as any request does: the caller's retry sees it."""
    if not reads:
        return []
    resp: Any = w3.provider.make_batch_request(  # type: ignore[attr-defined]
        [r.request(block) for r in reads]
    )
    if not isinstance(resp, list):  # the whole batch refused (a node without batches)
        err = dict(resp.get("error") or {"message": str(resp)})
        raise Web3RPCError(f"batch of {len(reads)} eth_call refused: {err.get('message')}")
    return [answer(r, item) for r, item in zip(reads, resp, strict=True)]


def answer(read: Read, item: Mapping[str, Any]) -> Any:
    """One batch item's answer to ``read``: its decoded value, or its ``ReadFailed``."""
    err = item.get("error")
    if err:
        data = err.get("data")
        data = data if isinstance(data, str) else None
        message = str(err.get("message", ""))
        reverted = err.get("code") == 3 or "revert" in message.lower()
        return ReadFailed(read.fn.name, message, data, reverted)
    raw = bytes.fromhex(str(item.get("result") or "0x")[2:])
    if not raw and read.fn.outputs:  # no code at `to`: a call to an EOA returns nothing
        return ReadFailed(read.fn.name, "returned no data", bad_output=True)
    try:
        return read.fn.result(raw)
    except Exception as exc:  # noqa: BLE001 - undecodable: not what the ABI says
        return ReadFailed(
            read.fn.name, f"undecodable answer ({type(exc).__name__})", bad_output=True
        )


def call_all(w3: Web3, reads: Sequence[Read], block: int | str) -> list[Any]:
    """Every read's value in one batch; the first failure raises (a revert as
    ``ContractLogicError``)."""
    values = call_many(w3, reads, block)
    for v in values:
        if isinstance(v, ReadFailed):
            raise v.error()
    return values


@lru_cache(maxsize=4096)
def checksum(address: str) -> str:
    """``to_checksum_address``, each address's answer kept (a keccak a call otherwise: the fund
    read's and the plan's few addresses come back on every tick). Raises as it does."""
    return str(to_checksum_address(address))


def _normalise(type_str: str, value: Any) -> Any:
    return _walk(parse(type_str), value)


def _walk(t: Any, value: Any) -> Any:
    if t.arrlist:
        item = t.item_type
        return [_walk(item, v) for v in value]
    if isinstance(t, TupleType):
        return tuple(_walk(c, v) for c, v in zip(t.components, value, strict=True))
    if isinstance(t, BasicType) and t.base == "address":
        return checksum(value)
    return value
