"""Ballast keepers: off-chain planning, risk, approval and the transaction pipeline."""

from keepers.version import __version__

__all__ = ["__version__"]
