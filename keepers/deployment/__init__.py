"""Deploy wiring importable from scripts/ and tests (no ape script here)."""
