"""A standing anvil node on a free loopback port (the deploy tests' stand-in for a real chain):
`start_anvil(*args)` returns the process, its URL and a web3 connected to it; the caller
terminates the process; the fixture `node` yields (URL, web3) and stops it after the test (loaded for
tests/offchain by its conftest). The one anvil starter is ballast_dev/local/anvil_local.py; this only
adds the web3 the deploy tests read the chain with."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from web3 import Web3

from ballast_dev.local import anvil_local
from ballast_dev.local.anvil_local import free_port

__all__ = ["free_port", "node", "start_anvil"]


def start_anvil(*args: str) -> tuple[subprocess.Popen[bytes], str, Web3]:
    proc, url = anvil_local.start_anvil(*args)
    return proc, url, Web3(Web3.HTTPProvider(url))


@pytest.fixture
def node() -> Iterator[tuple[str, Web3]]:
    """A standing anvil for one test: (URL, web3), terminated afterwards."""
    proc, url, w3 = start_anvil()
    try:
        yield url, w3
    finally:
        proc.terminate()
        proc.wait(timeout=10)
