"""Ballast keepers: off-chain planning, risk, approval and the transaction pipeline."""

__version__ = "0.1.0"
