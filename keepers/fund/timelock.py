"""What the admin has queued in the FundTimelock (issue 67): each operation still open, what it
calls, when it becomes executable and when it expires, for ``keeper status`` (and ``--json``),
the console's fund page and the metrics (``rebalance_timelock_operation_*``, alert rules
``TimelockOperationReady`` and ``TimelockOperationExpiring``).

The ids come from the timelock's ``CallScheduled`` events over a bounded range of blocks
(``KEEPER_TIMELOCK_LOOKBACK_BLOCKS`` back from the block read: one call, or chunks of 10,000
blocks when the node caps ``eth_getLogs``); each id's state is the timelock's own
(``getTimestamp`` at the same block: 0 cancelled or never, 1 executed, else its ready time), so
``Cancelled`` and ``CallExecuted`` need not be in the range. ``TimelockWatch`` keeps the ids it
has seen and scans only the blocks after its last scan (the bot's ticks, and the views'
own watch per bot: ``queued(...)`` for ``keeper status`` and the console's page views).

``EXECUTION_WINDOW()`` is read from the timelock; a timelock of an older release (no window:
OpenZeppelin's, executable for ever) shows ``expires_at`` None.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

from keepers import abis
from keepers.fund.logs import get_logs, view_watch
from keepers.fund.reader import unread_lines, view_not_read
from keepers.runtime import metrics
from keepers.tx.reads import Read, call_all, fn

__all__ = ["QueuedOp", "TimelockWatch", "queued", "timelock_lines", "timelock_view"]

_DONE = 1


@dataclass
class QueuedOp:
    """One open operation: ``calls`` as "contract.function" labels, ``ready_at`` (unix time),
    ``expires_at`` (the last executable second; None: never) and ``state`` at ``now``:
    waiting | ready | expired."""

    id: str
    calls: list[str]
    ready_at: int
    expires_at: int | None
    state: str
    scheduled_block: int

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)  # every field, under its own name


@cache  # the ABIs this keeper was built with: the same for the process's life
def _selectors() -> dict[bytes, str]:
    out: dict[bytes, str] = {}
    from eth_utils import function_signature_to_4byte_selector

    for name in (
        "TieredVault",
        "AssetController",
        "FundTimelock",
        "UniswapV3Adapter",
        "PlanExecutor",
    ):
        for item in abis.load(name):
            if item.get("type") != "function":
                continue
            sig = f"{item['name']}({','.join(abis.abi_type(i) for i in item.get('inputs', []))})"
            out.setdefault(function_signature_to_4byte_selector(sig), item["name"])
    return out


def _labels(addresses: Any) -> dict[str, str]:
    names = {
        "vault": addresses.vault,
        "controller": addresses.controller,
        "timelock": addresses.timelock,
        "plan_executor": addresses.plan_executor,
        **{f"adapter.{k}": v for k, v in addresses.adapters.items()},
        **{f"feed.{k}": v for k, v in addresses.feeds.items()},
    }
    return {str(v).lower(): k for k, v in names.items() if v}


def state_at(ready_at: int, expires_at: int | None, now: int) -> str:
    if now < ready_at:
        return "waiting"
    if expires_at is not None and now > expires_at:
        return "expired"
    return "ready"


@dataclass
class TimelockWatch:
    """The ids scheduled on ``timelock`` (a web3 contract), scanned incrementally."""

    timelock: Any
    addresses: Any
    lookback_blocks: int
    scanned_to: int | None = None
    calls: dict[str, list[str]] = field(default_factory=dict)
    blocks: dict[str, int] = field(default_factory=dict)
    _window: int | None = None
    _window_read: bool = False

    def _scan(self, to_block: int) -> None:
        start = (
            max(0, to_block - self.lookback_blocks + 1)
            if self.scanned_to is None
            else self.scanned_to + 1
        )
        if start > to_block:
            return
        sels, labels = _selectors(), _labels(self.addresses)
        seen: dict[str, dict[int, str]] = {}
        for lg in get_logs(self.timelock.events.CallScheduled, start, to_block):
            a = lg["args"]
            op = "0x" + bytes(a["id"]).hex()
            data = bytes(a["data"])
            target = str(a["target"]).lower()
            who = labels.get(target, str(a["target"]))
            what = sels.get(data[:4], "0x" + data[:4].hex()) if len(data) >= 4 else "(no data)"
            if int(a["index"]) == 0:  # a new schedule of the id: its calls afresh
                seen[op] = {}
                self.blocks[op] = int(lg["blockNumber"])
            seen.setdefault(op, {})[int(a["index"])] = f"{who}.{what}"
        for op, calls in seen.items():
            self.calls[op] = [calls[i] for i in sorted(calls)]
        self.scanned_to = to_block

    def window(self) -> int | None:
        if not self._window_read:
            try:
                self._window = int(self.timelock.functions.EXECUTION_WINDOW().call())
            except Exception:  # noqa: BLE001 - an older release's timelock, or not read
                try:  # a timelock of this release answers RELEASE(): its window was not read
                    self.timelock.functions.RELEASE().call()
                except Exception:  # noqa: BLE001 - 0.1.0's (OpenZeppelin's): no window at all
                    self._window = None
                else:
                    raise  # not read, never "executable for ever"
            self._window_read = True
        return self._window

    def open_at(self, block: int, now: int) -> list[QueuedOp]:
        """Every scheduled id still open at ``block`` (its time ``now``), oldest first; ids
        executed or cancelled are forgotten."""
        self._scan(block)
        window = self.window()
        out = []
        ops = list(self.calls)
        get = fn("FundTimelock", "getTimestamp")
        stamps = call_all(
            self.timelock.w3,
            [Read(self.timelock.address, get, (bytes.fromhex(op[2:]),)) for op in ops],
            block,
        )  # every open id's state in one batch
        for op, stamp in zip(ops, stamps, strict=True):
            ts = int(stamp)
            if ts <= _DONE:  # executed (1) or cancelled (0): nothing queued any more
                del self.calls[op]
                self.blocks.pop(op, None)
                continue
            expires = ts + window if window is not None else None
            out.append(
                QueuedOp(
                    op, self.calls[op], ts, expires, state_at(ts, expires, now), self.blocks[op]
                )
            )
        return sorted(out, key=lambda o: (o.ready_at, o.id))

    def observe(self, block: int, now: int) -> list[QueuedOp]:
        """``open_at`` and the metrics: each operation not expired, by id and calls."""
        ops = self.open_at(block, now)
        metrics.observe_timelock([o for o in ops if o.state != "expired"])
        return ops


# what TimelockWatch calls on the timelock
WATCHED = ("CallScheduled", "EXECUTION_WINDOW", "RELEASE")


def watched(contracts: Any) -> Any | None:
    """The timelock's handle over what ``TimelockWatch`` calls (``FundContracts.only``: not its
    whole ABI, 3-4 ms of CPU on each new connection); None when the record names none."""
    if getattr(contracts.addresses, "timelock", None) is None:
        return None
    return contracts.only("timelock", *WATCHED)


def queued(bot: Any, block: int, now: int) -> list[QueuedOp] | None:
    """The open operations at ``block`` (``keeper status``, the console); None when the record
    names no timelock. Incremental per bot (keepers.fund.logs.view_watch: the console's views
    scan only the blocks after the last one's, and keep an id open while the timelock says
    so); a view at an older block than the watch's scans its lookback once on its own."""
    timelock = watched(bot.contracts)
    if timelock is None:
        return None
    lookback = int(bot.k.timelock_lookback_blocks)

    def make() -> TimelockWatch:
        return TimelockWatch(timelock, bot.addresses, lookback)

    watch, lock = view_watch(bot, "timelock", make)
    with lock:
        if watch.scanned_to is None or block >= watch.scanned_to:
            return watch.open_at(block, now)
    return make().open_at(block, now)


def _utc(ts: int | None) -> str:
    import datetime as dt

    if ts is None:
        return "never"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def timelock_view(bot: Any, block: int, now: int) -> dict[str, Any] | None:
    """``{"queued": [...]}`` for ``keeper status`` and the console; ``{"error": ...}`` when the
    node did not answer (not read is never "nothing queued"); None without a timelock."""
    try:
        ops = queued(bot, block, now)
    except Exception as err:  # noqa: BLE001 - shown as not read, the rest of the page stands
        return {"error": f"{type(err).__name__}: {err}"[:300]}
    return None if ops is None else {"queued": [o.to_doc() for o in ops]}


def timelock_not_read(doc: dict[str, Any] | None) -> list[str]:
    """The timelock's queue not read, in words (the status's and the console's "not read")."""
    return view_not_read(doc, "timelock queue")


def timelock_lines(doc: dict[str, Any] | None) -> list[str]:
    if (unread := unread_lines(doc, "timelock", "not in the deployment record")) is not None:
        return unread
    assert doc is not None  # read: unread_lines said so
    ops = doc["queued"]
    if not ops:
        return ["timelock: nothing queued"]
    lines = [f"timelock: {len(ops)} queued"]
    for o in ops:
        lines.append(
            f"  {o['id'][:18]}  {', '.join(o['calls'])}  {o['state'].upper()}  executable "
            f"{_utc(o['ready_at'])}, expires {_utc(o['expires_at'])}"
            + ("  (queue it again to run it)" if o["state"] == "expired" else "")
        )
    return lines
