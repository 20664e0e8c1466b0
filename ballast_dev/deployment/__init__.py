"""Deployment helpers shared by scripts/deploy.py, the demo and the tests (ape-based)."""
