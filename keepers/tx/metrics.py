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
