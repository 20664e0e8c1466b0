"""A sandwiching searcher for tests (dev only): the adversary every public pending transaction
meets on a real chain (issue 62), played against a local anvil.

It reads the node's pending pool (``txpool_content``), decodes any pending call to the fund's
controller (``purchaseAsset`` / ``redeemAsset``) or to the PlanExecutor (``executeAction``
wrapping one of them), and for a pool leg:

1. simulates the victim alone (``eth_simulateV1``): a victim that would revert is left alone;
2. sizes the largest front-run on the victim's Uniswap V3 pool that still lets the victim
   pass its ``minOut`` (binary search over the front-run's input, each probe one
   ``eth_simulateV1`` block of [front-run, victim]);
3. simulates [front-run, victim, back-run] and sends the pair only when the searcher ends with
   more of the coin it started with: the front-run with a higher priority fee than the
   victim's, the back-run with a lower one, so a node ordering a block by fee (anvil's default
   ``--order fees``) mines front, victim, back.

It holds both tokens of every pool it trades (the test mints them) and trades through the
pool's SwapRouter (``exactInputSingle``). :func:`pending_calls_seen` is the reusable part: which
pending transactions to the given addresses the public pool shows (a private relay's test
checks it sees none).

On a chain mining on an interval the searcher hunts in a thread of its own (:meth:`Searcher.hunt`)
and races the block. :func:`produce_blocks` is the test-driven block producer for a chain with
neither automine nor interval mining: a block is mined (``evm_mine``, ordered by fee) as soon as
the pool holds a transaction and the searcher has polled every transaction in it, so each leg
still waits in the public pool for the searcher and the block orders whatever it sent around the
leg by fee, without the 2 s a block of interval mining costs (issue 68).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode, encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from web3 import Web3

PURCHASE = keccak(text="purchaseAsset(address,uint256,uint256)")[:4]
REDEEM = keccak(text="redeemAsset(address,uint256,uint256)")[:4]
EXECUTE = keccak(
    text="executeAction((bytes32,address,uint64,uint16[]),uint256,bytes,bytes32[],bytes[])"
)[:4]
EXACT_INPUT_SINGLE = keccak(
    text="exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))"
)[:4]
APPROVE = keccak(text="approve(address,uint256)")[:4]
MAX_DEADLINE = 2**64 - 1


def pending_calls_seen(w3: Web3, targets: set[str] | list[str]) -> list[dict[str, Any]]:
    """Every transaction the node's public pool (``txpool_content``, pending and queued) holds
    whose ``to`` is one of ``targets``: what any searcher reading that node sees."""
    wanted = {t.lower() for t in targets}
    content = dict(w3.provider.make_request("txpool_content", []).get("result") or {})  # type: ignore[arg-type]
    out = []
    for section in ("pending", "queued"):
        for by_nonce in (content.get(section) or {}).values():
            for tx in by_nonce.values():
                if (tx.get("to") or "").lower() in wanted:
                    out.append(dict(tx))
    return out


@dataclass(frozen=True)
class Leg:
    """A victim's pool leg: buy (cash in, token out) or sell (token in, cash out)."""

    token: str
    amount_in: int
    min_out: int
    buy: bool


def decode_leg(tx: dict[str, Any], controller: str, executor: str | None) -> Leg | None:
    """The pool leg a pending transaction carries, or None."""
    data = bytes.fromhex(str(tx.get("input") or "0x").removeprefix("0x"))
    to = (tx.get("to") or "").lower()
    if executor is not None and to == executor.lower() and data[:4] == EXECUTE:
        args = decode(
            ["(bytes32,address,uint64,uint16[])", "uint256", "bytes", "bytes32[]", "bytes[]"],
            data[4:],
        )
        data = bytes(args[2])
    elif to != controller.lower():
        return None
    if len(data) != 100 or data[:4] not in (PURCHASE, REDEEM):
        return None
    token, amount, min_out = decode(["address", "uint256", "uint256"], data[4:])
    return Leg(to_checksum_address(token), int(amount), int(min_out), data[:4] == PURCHASE)


@dataclass
class Sandwich:
    victim: str  # the victim's transaction hash
    leg: Leg
    front_in: int
    profit: int  # in the coin the front-run spent, simulated
    sent: tuple[str, str] = ("", "")
    searched_s: float = 0.0


@dataclass
class Searcher:
    """The bot (see the module doc). ``pools``: token -> fee tier of its pool against
    ``cash``; ``key``: the searcher's private key (holds both tokens of each pool)."""

    w3: Web3
    key: str
    router: str
    cash: str
    pools: dict[str, int]
    controller: str
    executor: str | None = None
    seen: set[str] = field(default_factory=set)
    done: list[Sandwich] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def address(self) -> str:
        return str(Account.from_key(self.key).address)

    # ------------------------------------------------------------------ encoding

    def _swap(self, token_in: str, token_out: str, fee: int, amount_in: int) -> str:
        args = encode(
            ["(address,address,uint24,address,uint256,uint256,uint256,uint160)"],
            [(token_in, token_out, fee, self.address, MAX_DEADLINE, amount_in, 0, 0)],
        )
        return "0x" + (EXACT_INPUT_SINGLE + args).hex()

    def approve_router(self) -> None:
        """Unlimited allowances of every token to the router (once, before hunting)."""
        for token in (self.cash, *self.pools):
            data = APPROVE + encode(["address", "uint256"], [self.router, 2**256 - 1])
            self._send({"to": token, "data": "0x" + data.hex()}, tip=None, wait=True)

    # ------------------------------------------------------------------ simulation

    def _simulate(self, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        senders = {c["from"] for c in calls}
        payload = {
            "blockStateCalls": [
                {
                    "stateOverrides": {s: {"balance": hex(10**24)} for s in senders},
                    "calls": calls,
                }
            ],
            "validation": False,
        }
        resp = self.w3.provider.make_request("eth_simulateV1", [payload, "latest"])  # type: ignore[arg-type]
        if "error" in resp:
            raise RuntimeError(f"eth_simulateV1: {resp['error']}")
        return list(resp["result"][0]["calls"])

    @staticmethod
    def _ok(call: dict[str, Any]) -> bool:
        return int(call.get("status", "0x0"), 16) == 1

    def _legs(self, leg: Leg, front_in: int) -> tuple[dict[str, Any], str, str, int]:
        """(front-run call, its token in, token out, fee): the front-run trades the victim's
        direction (buys before a buy, sells before a sell)."""
        fee = self.pools[leg.token]
        t_in, t_out = (self.cash, leg.token) if leg.buy else (leg.token, self.cash)
        call = {
            "from": self.address,
            "to": self.router,
            "data": self._swap(t_in, t_out, fee, front_in),
        }
        return call, t_in, t_out, fee

    def _victim_call(self, tx: dict[str, Any]) -> dict[str, Any]:
        return {"from": tx["from"], "to": tx["to"], "data": tx["input"], "gas": tx.get("gas")}

    def passes(self, tx: dict[str, Any], leg: Leg, front_in: int) -> bool:
        front = self._legs(leg, front_in)[0]
        res = self._simulate([front, self._victim_call(tx)])
        return self._ok(res[0]) and self._ok(res[1])

    def size(self, tx: dict[str, Any], leg: Leg, cap: int) -> int:
        """The largest front-run input (to 1/64 of ``cap``'s precision) that still lets the
        victim pass its minOut: a binary search of [front, victim] simulations."""
        lo, hi = 0, cap
        if self.passes(tx, leg, hi):
            return hi
        while hi - lo > max(cap // 4096, 1):
            mid = (lo + hi) // 2
            if self.passes(tx, leg, mid):
                lo = mid
            else:
                hi = mid
        return lo

    def profit(self, tx: dict[str, Any], leg: Leg, front_in: int) -> tuple[int, int]:
        """(the searcher's net in the front-run's input coin, the back-run's input) of
        [front, victim, back] simulated together."""
        front, t_in, t_out, fee = self._legs(leg, front_in)
        res = self._simulate([front, self._victim_call(tx)])
        if not (self._ok(res[0]) and self._ok(res[1])):
            return -1, 0
        got = int(decode(["uint256"], bytes.fromhex(res[0]["returnData"][2:]))[0])
        back = {"from": self.address, "to": self.router, "data": self._swap(t_out, t_in, fee, got)}
        res = self._simulate([front, self._victim_call(tx), back])
        if not all(self._ok(r) for r in res):
            return -1, got
        back_out = int(decode(["uint256"], bytes.fromhex(res[2]["returnData"][2:]))[0])
        return back_out - front_in, got

    # ------------------------------------------------------------------ sending

    def _send(
        self, tx: dict[str, Any], tip: int | None, wait: bool = False, nonce: int | None = None
    ) -> str:
        base = int(self.w3.eth.get_block("latest")["baseFeePerGas"] or 0)
        full = {
            "from": self.address,
            "chainId": int(self.w3.eth.chain_id),
            "nonce": nonce
            if nonce is not None
            else self.w3.eth.get_transaction_count(to_checksum_address(self.address), "pending"),
            "gas": 1_000_000,
            "maxPriorityFeePerGas": tip if tip is not None else 10**9,
            # a fee cap just over the base fee: the effective tip is the tip asked (the back-run
            # must pay less than the victim, not more through a wider cap)
            "maxFeePerGas": 2 * base + (tip if tip is not None else 10**9),
            "value": 0,
            **tx,
        }
        signed = Account.sign_transaction(full, self.key)
        h = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        if wait:
            self.w3.eth.wait_for_transaction_receipt(h, timeout=60)
        return "0x" + bytes(h).hex()

    def _effective_tip(self, tx: dict[str, Any]) -> int:
        """What the victim pays the block per gas above the base fee: the node orders by it."""
        base = int(self.w3.eth.get_block("latest")["baseFeePerGas"] or 0)
        if tx.get("maxPriorityFeePerGas") is not None:
            cap = int(tx["maxFeePerGas"], 16) - base
            return max(min(int(tx["maxPriorityFeePerGas"], 16), cap), 0)
        return max(int(tx.get("gasPrice") or "0x0", 16) - base, 0)

    def attack(self, tx: dict[str, Any], leg: Leg, cap: int) -> Sandwich | None:
        """Size, check the profit, send front (higher tip) and back (lower tip)."""
        started = time.perf_counter()
        front_in = self.size(tx, leg, cap)
        if front_in <= 0:
            self.skipped.append((tx["hash"], "no room: the victim fails at any front-run"))
            return None
        net, got = self.profit(tx, leg, front_in)
        searched = time.perf_counter() - started
        if net <= 0:
            self.skipped.append((tx["hash"], f"unprofitable: net {net} on {front_in}"))
            return None
        victim_tip = self._effective_tip(tx)
        front, t_in, t_out, fee = self._legs(leg, front_in)
        nonce = self.w3.eth.get_transaction_count(to_checksum_address(self.address), "pending")
        h1 = self._send({"to": front["to"], "data": front["data"]}, victim_tip + 10**9, nonce=nonce)
        back = self._swap(t_out, t_in, fee, got)
        h2 = self._send({"to": self.router, "data": back}, max(victim_tip // 2, 0), nonce=nonce + 1)
        s = Sandwich(tx["hash"], leg, front_in, net, (h1, h2), searched)
        self.done.append(s)
        return s

    def poll_once(self, cap_for: dict[str, int]) -> list[Sandwich]:
        """One read of the pending pool: every new victim found is attacked (once)."""
        targets = [self.controller] + ([self.executor] if self.executor else [])
        out = []
        for tx in pending_calls_seen(self.w3, targets):
            if tx["hash"] in self.seen:
                continue
            self.seen.add(tx["hash"])
            leg = decode_leg(tx, self.controller, self.executor)
            if leg is None or leg.token not in self.pools:
                continue
            alone = self._simulate([self._victim_call(tx)])
            if not self._ok(alone[0]):
                self.skipped.append((tx["hash"], "the victim fails alone"))
                continue
            s = self.attack(tx, leg, cap_for["buy" if leg.buy else "sell"])
            if s is not None:
                out.append(s)
        return out

    def hunt(self, stop: Any, cap_for: dict[str, int], interval_s: float = 0.05) -> None:
        """Poll every ``interval_s`` until ``stop`` (a threading.Event) is set."""
        while not stop.is_set():
            try:
                self.poll_once(cap_for)
            except Exception as err:  # noqa: BLE001 - a bot keeps hunting; the test reads skipped
                self.skipped.append(("-", repr(err)))
            time.sleep(interval_s)


def pending_hashes(w3: Web3) -> set[str]:
    """The hashes of the transactions the node's pool holds ready for the next block (its
    ``pending`` section: a ``queued`` one waits for a nonce before it, no block takes it)."""
    content = dict(w3.provider.make_request("txpool_content", []).get("result") or {})  # type: ignore[arg-type]
    return {
        str(tx["hash"])
        for by_nonce in (content.get("pending") or {}).values()
        for tx in by_nonce.values()
    }


def produce_blocks(
    w3: Web3, searcher: Searcher, cap_for: dict[str, int], stop: Any, idle_s: float = 0.02
) -> int:
    """The block producer of a chain with automine and interval mining off, until ``stop`` (a
    threading.Event) is set: whenever the pool holds a transaction, the searcher polls it
    (:meth:`Searcher.poll_once`: it sees every pending leg and sends its front- and back-run
    with fees around it), and once the searcher has seen every transaction in the pool (one
    that arrived during its poll gets a poll of its own first) one block is mined
    (``evm_mine``): the node orders it by fee, as a block producer would. Returns the number of
    blocks mined. A transaction sent between the last look at the pool and the mine would go
    unseen: the fund keeper sends one action and waits for it to be mined before the next, so
    no keeper leg can arrive in that gap."""
    mined = 0
    while not stop.is_set():
        if not pending_hashes(w3):
            time.sleep(idle_s)
            continue
        try:
            searcher.poll_once(cap_for)
        except Exception as err:  # noqa: BLE001 - as hunt: the test reads skipped
            searcher.skipped.append(("-", repr(err)))
        targets = [searcher.controller] + ([searcher.executor] if searcher.executor else [])
        if any(tx["hash"] not in searcher.seen for tx in pending_calls_seen(w3, targets)):
            continue  # a leg arrived during the poll: the searcher's turn first
        resp = w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        if "error" in resp:
            raise RuntimeError(f"evm_mine: {resp['error']}")
        mined += 1
    return mined
