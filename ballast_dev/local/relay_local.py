"""LOCAL CHAINS ONLY: a private relay for the local anvil, behaving like Flashbots Protect.

What the keepers see of it is what they see of the real relay (keepers.tx.relay), field for
field and failure for failure (checked against Flashbots' published docs and its
rpc-endpoint server, and MEV Blocker's status API):

- ``POST /`` JSON-RPC ``eth_sendRawTransaction(raw)``: the transaction's hash; the raw bytes
  are held here, never given to the node's public pool until they can be included. A
  malformed request is a JSON-RPC error as rpc-endpoint writes it: no or null params ->
  -32602 ``empty params for eth_sendRawTransaction``; bytes that are not a signed transaction
  -> -32600 ``reading transaction object failed - rawTx: <raw>``; a nonce of 1e9 or more ->
  -32600 ``tx rejected - nonce too high``; a nonce the chain has passed -> -32603 ``nonce too
  low``. ``eth_cancelPrivateTransaction({"txHash": h})`` -> true, and the held transaction
  ends CANCELLED. Any other method is proxied to the node (rpc-endpoint does the same).
- ``GET /tx/<hash>``: ``{"status", "hash", "maxBlockNumber", "transaction": {"from", "to",
  "gasLimit", "maxFeePerGas", "maxPriorityFeePerGas", "nonce", "value"}, "fastMode",
  "seenInMempool", "simError", "revertReason", "isRevert"}``; ``status`` is PENDING (held),
  INCLUDED (its receipt is on chain), FAILED (not included within ``drop_blocks`` blocks of
  its arrival, 25 by default: ``maxBlockNumber``), CANCELLED, or UNKNOWN (never received).
  The ``transaction`` fields are filled for INCLUDED only, empty strings otherwise (Protect's
  privacy rule).

Inclusion, as a builder does it: a held transaction is included when it can be, in the next
block: its nonce is the sender's next on chain, its ``maxFeePerGas`` covers the base fee and
it does not revert (Protect's revert protection: a reverting transaction is not included and
its ``simError`` says why; it stays PENDING until it is dropped). ``withhold = True`` plays a
builder that never wins a block (what makes a real relay drop a transaction): nothing is
included, and every held transaction ends FAILED after ``drop_blocks``.

How it stays out of the public pool (``txpool_content`` never lists it while held):

- ``mining="node"``: the node mines on arrival (anvil's automine: the demo, most tests). A
  transaction is handed to the node only once includable, and the node mines it at once.
- ``mining="relay"``: a chain that makes a block every ``block_time`` seconds (the searcher's
  test: interval mining, the pool ordered by fee). The relay is then its block builder: it
  turns the node's own interval mining off (``evm_setIntervalMining 0``) and every
  ``block_time`` seconds turns automine on, hands its includable transactions over one by
  one, each mined on arrival in a block of its own (it waits for each receipt), turns
  automine off and mines the interval's block for the public pool (``evm_mine``), whose
  transactions wait for it as with interval mining. ``stop()`` gives the node its own
  mining back (interval or automine, as it was).

Anvil has no call that mines a given transaction without its pool: between the hand-over and
anvil's mining the pool lists it (measured 0-110 ms on a loaded 2-core machine). While the
relay holds it, never. (A first version sent ``eth_sendRawTransaction`` and ``evm_mine`` in
one JSON-RPC batch and turned nothing on: tests/offchain/cli/test_keeper_run_private.py saw a
trade listed in the pool; waiting for each receipt with automine on is what it checks now.)
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests
import rlp
from eth_account import Account
from eth_account.typed_transactions import TypedTransaction
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes

DROP_BLOCKS = 25  # Flashbots Protect: "submitted for 25 blocks and failed to be included"
NONCE_CAP = 10**9  # rpc-endpoint: "tx rejected - nonce too high"
INVALID_REQUEST, INVALID_PARAMS, INTERNAL_ERROR = -32600, -32602, -32603


class RelayRpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class Held:
    """One transaction the relay received."""

    tx_hash: str
    raw: str
    sender: str
    nonce: int
    to: str | None
    value: int
    data: str
    gas: int
    max_fee: int
    tip: int
    received_block: int
    max_block: int
    status: str = "PENDING"
    sim_error: str = ""
    included_block: int | None = None
    released: bool = False  # handed to the node for inclusion
    released_at: float | None = None  # time.monotonic() when it was handed over
    seen: list[str] = field(default_factory=list)  # what happened, for test messages


def decode_raw(raw: str) -> dict[str, Any]:
    """The signed transaction's fields and sender; ValueError when it is not one."""
    data = bytes(HexBytes(raw))
    if not data:
        raise ValueError("empty")
    sender = Account.recover_transaction(data)
    if data[0] <= 0x7F:  # EIP-2718 typed
        d = TypedTransaction.from_bytes(HexBytes(data)).as_dict()
        max_fee = int(d.get("maxFeePerGas", d.get("gasPrice", 0)))
        tip = int(d.get("maxPriorityFeePerGas", max_fee))
        to = d.get("to")
        fields = (int(d["nonce"]), to, int(d["value"]), d["data"], int(d["gas"]), max_fee, tip)
    else:  # legacy: [nonce, gasPrice, gas, to, value, data, v, r, s]
        items = rlp.decode(data)
        nonce, price, gas, to_b, value, payload = items[:6]
        to = to_b if to_b else None
        price_i = int.from_bytes(price, "big")
        fields = (
            int.from_bytes(nonce, "big"), to, int.from_bytes(value, "big"), payload,
            int.from_bytes(gas, "big"), price_i, price_i,
        )  # fmt: skip
    nonce_i, to, value_i, payload, gas_i, max_fee, tip = fields
    return {
        "sender": to_checksum_address(sender),
        "nonce": nonce_i,
        "to": None if not to else to_checksum_address(HexBytes(to)),
        "value": value_i,
        "data": HexBytes(payload).to_0x_hex(),
        "gas": gas_i,
        "max_fee": max_fee,
        "tip": tip,
        "hash": "0x" + keccak(data).hex(),
    }


class RelayLocal:
    """The stand-in: ``start()`` serves it on 127.0.0.1 (``url``), ``stop()`` ends it."""

    def __init__(
        self,
        node_url: str,
        *,
        drop_blocks: int = DROP_BLOCKS,
        mining: str = "node",
        block_time: float = 2.0,
        poll_s: float = 0.05,
        port: int = 0,
    ) -> None:
        if mining not in ("node", "relay"):
            raise ValueError(f"mining={mining!r}: expected 'node' or 'relay'")
        if drop_blocks < 1:
            raise ValueError(f"drop_blocks={drop_blocks}: expected at least 1")
        self.node_url = node_url
        self.drop_blocks = drop_blocks
        self.mining = mining
        self.block_time = block_time
        self.poll_s = poll_s
        self.withhold = False
        # tests: the builder makes no block at all while set (mining="relay": the chain
        # stands still, the public pool's transactions wait in it)
        self.paused = False
        self.held: dict[str, Held] = {}
        self.blocks_built = 0
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._http = requests.Session()
        self._stop = threading.Event()
        self._builder: threading.Thread | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._interval_before: int | None = None
        self._automine_before = False
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(128)
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    # ----------------------------------------------------------------- the node

    def _node(self, method: str, params: list[Any]) -> Any:
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        answer = self._http.post(self.node_url, json=body, timeout=30).json()
        if answer.get("error"):
            raise RelayRpcError(int(answer["error"].get("code", INTERNAL_ERROR)),
                                str(answer["error"].get("message")))  # fmt: skip
        return answer.get("result")

    def _node_batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        body = [
            {"jsonrpc": "2.0", "id": next(self._ids), "method": m, "params": p} for m, p in calls
        ]
        answers = self._http.post(self.node_url, json=body, timeout=60).json()
        by_id = {a.get("id"): a for a in answers}
        return [by_id.get(b["id"], {}) for b in body]

    def _node_or_error(self, method: str, params: list[Any]) -> Any:
        """A node call whose refusal is kept (a released transaction the node refused stays
        PENDING and is dropped at its window), not raised."""
        try:
            return self._node(method, params)
        except RelayRpcError as err:
            return err

    def _await_receipt(self, tx_hash: str, timeout_s: float = 5.0) -> None:
        """Wait (automine on) until anvil has mined ``tx_hash``: turning automine off before
        its miner ran would leave the transaction in the public pool until the next block."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self._node("eth_getTransactionReceipt", [tx_hash]) is not None:
                return
            time.sleep(0.001)

    def _head(self) -> int:
        return int(self._node("eth_blockNumber", []), 16)

    # ----------------------------------------------------------------- JSON-RPC

    def send_raw(self, params: Any) -> str:
        if not isinstance(params, list) or not params or params[0] is None:
            raise RelayRpcError(INVALID_PARAMS, "empty params for eth_sendRawTransaction")
        raw = params[0]
        if not isinstance(raw, str) or len(raw) < 2:
            raise RelayRpcError(INVALID_PARAMS, "invalid raw transaction param (wrong length)")
        try:
            tx = decode_raw(raw)
        except Exception:  # noqa: BLE001 - any decoding failure is the same answer
            raise RelayRpcError(
                INVALID_REQUEST, f"reading transaction object failed - rawTx: {raw}"
            ) from None
        if tx["nonce"] >= NONCE_CAP:
            raise RelayRpcError(INVALID_REQUEST, "tx rejected - nonce too high")
        with self._lock:
            known = self.held.get(tx["hash"])
            if known is not None and known.status in ("PENDING", "INCLUDED"):
                return tx["hash"]  # the same bytes again: already held
            chain_nonce = int(self._node("eth_getTransactionCount", [tx["sender"], "latest"]), 16)
            if tx["nonce"] < chain_nonce:
                raise RelayRpcError(INTERNAL_ERROR, "nonce too low")
            head = self._head()
            self.held[tx["hash"]] = Held(
                tx_hash=tx["hash"], raw=raw, sender=tx["sender"], nonce=tx["nonce"],
                to=tx["to"], value=tx["value"], data=tx["data"], gas=tx["gas"],
                max_fee=tx["max_fee"], tip=tx["tip"], received_block=head,
                max_block=head + self.drop_blocks,
            )  # fmt: skip
        return str(tx["hash"])

    def cancel(self, params: Any) -> bool:
        h = params[0].get("txHash") if params and isinstance(params[0], dict) else None
        if not isinstance(h, str):
            raise RelayRpcError(INVALID_PARAMS, "invalid params for eth_cancelPrivateTransaction")
        with self._lock:
            held = self.held.get(h.lower())
            if held is None or held.status != "PENDING" or held.released:
                return False
            held.status = "CANCELLED"
            return True

    def handle_rpc(self, req: Any) -> dict[str, Any]:
        if not isinstance(req, dict) or "method" not in req:
            return {"jsonrpc": "2.0", "id": None,
                    "error": {"code": INVALID_REQUEST, "message": "invalid json-rpc request"}}  # fmt: skip
        rid, method, params = req.get("id"), req["method"], req.get("params")
        try:
            if method == "eth_sendRawTransaction":
                result: Any = self.send_raw(params)
            elif method == "eth_cancelPrivateTransaction":
                result = self.cancel(params)
            else:  # like rpc-endpoint: everything else is the node's
                result = self._node(method, params or [])
        except RelayRpcError as err:
            return {"jsonrpc": "2.0", "id": rid,
                    "error": {"code": err.code, "message": err.message}}  # fmt: skip
        return {"jsonrpc": "2.0", "id": rid, "result": result}

    def status(self, tx_hash: str) -> dict[str, Any]:
        """The status API's document (Flashbots Protect's fields)."""
        empty = {k: "" for k in ("from", "to", "gasLimit", "maxFeePerGas",
                                 "maxPriorityFeePerGas", "nonce", "value")}  # fmt: skip
        with self._lock:
            held = self.held.get(tx_hash.lower())
            if held is None:
                return {"status": "UNKNOWN", "hash": tx_hash, "maxBlockNumber": 0,
                        "transaction": empty, "fastMode": False, "seenInMempool": False,
                        "simError": "", "revertReason": "", "isRevert": False}  # fmt: skip
            tx = empty
            if held.status == "INCLUDED":
                tx = {
                    "from": held.sender, "to": held.to or "", "gasLimit": str(held.gas),
                    "maxFeePerGas": str(held.max_fee), "maxPriorityFeePerGas": str(held.tip),
                    "nonce": str(held.nonce), "value": str(held.value),
                }  # fmt: skip
            return {
                "status": held.status, "hash": held.tx_hash, "maxBlockNumber": held.max_block,
                "transaction": tx, "fastMode": False, "seenInMempool": False,
                "simError": held.sim_error, "revertReason": "", "isRevert": False,
            }  # fmt: skip

    # ----------------------------------------------------------------- the builder

    def _includable(self, head: int) -> list[Held]:
        """The held transactions the next block can take, in (sender, nonce) order; marks the
        ones past their window FAILED."""
        out: list[Held] = []
        with self._lock:
            waiting = sorted(
                (h for h in self.held.values() if h.status == "PENDING" and not h.released),
                key=lambda h: (h.sender, h.nonce),
            )
            for h in waiting:
                if head >= h.max_block:
                    h.status = "FAILED"
                    h.seen.append(f"failed at block {head}")
            waiting = [h for h in waiting if h.status == "PENDING"]
        if self.withhold or not waiting:
            return out
        latest = self._node("eth_getBlockByNumber", ["latest", False])
        # the next block's base fee is at most 12.5% above this one's (EIP-1559)
        base_fee = int(latest.get("baseFeePerGas") or "0x0", 16) * 9 // 8
        expected: dict[str, int] = {}
        for h in waiting:
            if h.sender not in expected:
                expected[h.sender] = int(
                    self._node("eth_getTransactionCount", [h.sender, "latest"]), 16
                )
            if h.nonce != expected[h.sender] or h.max_fee < base_fee:
                continue
            if not out or out[-1].sender != h.sender:  # first of its sender: simulated alone
                call = {"from": h.sender, "data": h.data, "value": hex(h.value), "gas": hex(h.gas)}
                if h.to:
                    call["to"] = h.to
                try:
                    self._node("eth_call", [call, "latest"])
                    h.sim_error = ""
                except RelayRpcError as err:
                    h.sim_error = err.message  # revert protection: not included
                    continue
            out.append(h)
            expected[h.sender] += 1
        return out

    def _pending(self) -> bool:
        """Whether any held transaction is still PENDING (waiting, or handed to the node and
        not yet seen in a block): the only ones a builder round can change."""
        with self._lock:
            return any(h.status == "PENDING" for h in self.held.values())

    def _mark_included(self) -> None:
        with self._lock:
            released = [h for h in self.held.values() if h.released and h.status == "PENDING"]
        head = self._head() if released else 0
        for h in released:
            receipt = self._node("eth_getTransactionReceipt", [h.tx_hash])
            if receipt is not None and receipt.get("blockNumber"):
                with self._lock:
                    h.status = "INCLUDED"
                    h.included_block = int(receipt["blockNumber"], 16)
            elif head >= h.max_block:
                with self._lock:  # handed over but never included (the node refused it)
                    h.status = "FAILED"

    def build_once(self) -> int:
        """One round of the builder: include what can be, fail what waited too long. In
        ``mining="relay"`` also mines the block. Returns the number handed to the node.

        With nothing held and waiting, a round of ``mining="node"`` asks the node nothing: it
        would only read the head, and nothing would come of it (the builder polls every
        ``poll_s``, 20 times a second by default, for the relay's whole life)."""
        if self.mining != "relay" and not self._pending():
            return 0
        self._mark_included()
        head = self._head()
        chosen = self._includable(head)
        with self._lock:
            for h in chosen:
                h.released = True
                h.seen.append(f"released at block {head}")
        if self.mining == "relay":
            if chosen:
                # mined on arrival, each in its own block: nobody's transaction can be put
                # in front of it (the node's pool holds it only while anvil mines it)
                self._node("evm_setAutomine", [True])
                try:
                    for h in chosen:
                        h.released_at = time.monotonic()
                        sent = self._node_or_error("eth_sendRawTransaction", [h.raw])
                        if not isinstance(sent, RelayRpcError):
                            self._await_receipt(h.tx_hash)
                finally:
                    self._node("evm_setAutomine", [False])
            self._node("evm_mine", [])  # the interval's block, for the public pool
            self.blocks_built += 1
        else:
            for h in chosen:
                h.released_at = time.monotonic()
                self._node_or_error("eth_sendRawTransaction", [h.raw])
        if chosen:
            self._mark_included()
        return len(chosen)

    def _build_loop(self) -> None:
        period = self.block_time if self.mining == "relay" else self.poll_s
        next_at = time.monotonic()
        while not self._stop.is_set():
            next_at += period
            if not self.paused:
                # a node hiccup: the next round tries again
                with contextlib.suppress(Exception):
                    self.build_once()
            self._stop.wait(max(next_at - time.monotonic(), 0.0))

    # ----------------------------------------------------------------- serving

    def app(self) -> Any:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        async def rpc(request: Request) -> JSONResponse:
            import anyio

            try:
                body = await request.json()
            except Exception:  # noqa: BLE001 - not JSON
                return JSONResponse({"jsonrpc": "2.0", "id": None,
                                     "error": {"code": -32700, "message": "parse error"}})  # fmt: skip
            if isinstance(body, list):
                out = [await anyio.to_thread.run_sync(self.handle_rpc, r) for r in body]
                return JSONResponse(out)
            return JSONResponse(await anyio.to_thread.run_sync(self.handle_rpc, body))

        async def tx_status(request: Request) -> JSONResponse:
            return JSONResponse(self.status(request.path_params["tx_hash"]))

        return Starlette(
            routes=[
                Route("/", rpc, methods=["POST"]),
                Route("/tx/{tx_hash}", tx_status, methods=["GET"]),
            ]
        )

    def start(self) -> RelayLocal:
        import uvicorn

        if self.mining == "relay":
            self._interval_before = None
            with contextlib.suppress(RelayRpcError):
                self._interval_before = self._node("anvil_getIntervalMining", [])
            with contextlib.suppress(RelayRpcError):
                self._automine_before = bool(self._node("anvil_getAutomine", []))
            self._node("evm_setAutomine", [False])
            self._node("evm_setIntervalMining", [0])
        config = uvicorn.Config(
            self.app(), log_config=None, access_log=False, lifespan="off", log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self.sock]}, name="relay", daemon=True
        )
        self._thread.start()
        end = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > end:
                raise OSError("the local relay's server did not start")
            time.sleep(0.01)
        self._builder = threading.Thread(target=self._build_loop, name="relay-builder",
                                         daemon=True)  # fmt: skip
        self._builder.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._builder is not None:
            self._builder.join(10)
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self.sock.close()
        if self.mining == "relay":  # the node's own mining back as it was
            with contextlib.suppress(Exception):  # the node may be gone already
                if self._interval_before:
                    self._node("evm_setIntervalMining", [int(self._interval_before)])
                if self._automine_before:
                    self._node("evm_setAutomine", [True])

    def __enter__(self) -> RelayLocal:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ballast_dev.local.relay_local")
    parser.add_argument("--node", required=True, help="the local node's JSON-RPC URL")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--drop-blocks", type=int, default=DROP_BLOCKS)
    parser.add_argument("--mining", choices=("node", "relay"), default="node")
    parser.add_argument("--block-time", type=float, default=2.0)
    args = parser.parse_args(argv)
    relay = RelayLocal(
        args.node, drop_blocks=args.drop_blocks, mining=args.mining,
        block_time=args.block_time, port=args.port,
    ).start()  # fmt: skip
    print(f"private relay on {relay.url} (status: {relay.url}/tx/<hash>)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        relay.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
