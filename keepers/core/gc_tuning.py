"""Garbage-collector settings of the long-lived keeper processes (``python -m keepers.tx.worker``
and ``keeper run``), applied once their start-up is done.

Measured on the pipeline (300 intents through every persisted step, SQLite, anvil, one
process): with CPython's default thresholds (700, 10, 10) the collector ran about 240 times a
run and took 15-20% of it, most of it full scans of the start-up heap (web3, SQLAlchemy, eth
libraries: hundreds of thousands of objects that live as long as the process). ``gc.freeze()``
moves that heap out of every later scan; a first-generation threshold of 20,000 lets a batch's
short-lived rows and dicts die before a scan sees them. Cyclic garbage is still collected: the
oldest generation is scanned after every 100 middle ones."""

from __future__ import annotations

import gc

THRESHOLDS = (20_000, 50, 100)


def tune_gc() -> tuple[int, int, int]:
    """Collect once, freeze what start-up built, raise the thresholds; returns the old ones."""
    old = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    return old  # type: ignore[return-value]
