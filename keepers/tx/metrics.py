"""Prometheus metrics of the transaction pipeline."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

PIPELINE_STEPS = Counter(
    "keeper_pipeline_steps_total",
    "Pipeline steps executed, by step and outcome",
    ["step", "outcome"],
)
PIPELINE_STEP_SECONDS = Histogram(
    "keeper_pipeline_step_seconds",
    "Wall time of one pipeline step (node calls and DB transaction)",
    ["step"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
# private submission (keepers.tx.relay); the transactions pending at a relay are a gauge of
# the store (keepers.runtime.metrics: keeper_private_pending)
PRIVATE_SENT = Counter(
    "keeper_private_sent_total",
    "Signed transactions a private relay accepted (eth_sendRawTransaction)",
)
PRIVATE_DROPS = Counter(
    "keeper_private_drops_total",
    "Private transactions the relay dropped (status FAILED or CANCELLED, or UNKNOWN past "
    "KEEPER_PRIVATE_UNKNOWN_AFTER_BLOCKS) with their nonce still unused: re-signed and sent "
    "again at the same nonce",
    ["status"],
)
PRIVATE_FALLBACK = Counter(
    "keeper_private_fallback_total",
    "Transactions meant for a private relay sent to the public pool instead "
    "(KEEPER_PUBLIC_MEMPOOL_FALLBACK), by reason (no_relay, relay_unreachable)",
    ["reason"],
)
# every label value a counter can take, exposed at 0 from the start: a dashboard's or an alert's
# increase() over a series that does not exist yet has no data (Prometheus's advice for labels)
for _status in ("FAILED", "CANCELLED", "UNKNOWN"):
    PRIVATE_DROPS.labels(_status)
for _reason in ("no_relay", "relay_unreachable"):
    PRIVATE_FALLBACK.labels(_reason)
