"""A standing anvil node on a free loopback port (the deploy tests' stand-in for a real chain):
`start_anvil(*args)` returns the process, its URL and a web3 connected to it; the caller
terminates the process."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from web3 import Web3

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_anvil(*args: str) -> tuple[subprocess.Popen, str, Web3]:
    anvil = shutil.which("anvil", path=f"{ROOT / 'node_modules' / '.bin'}:{os.environ['PATH']}")
    assert anvil, "anvil from npm (node_modules/.bin)"
    port = free_port()
    proc = subprocess.Popen(
        [anvil, "--port", str(port), "--silent", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    w3 = Web3(Web3.HTTPProvider(url))
    for _ in range(100):
        if w3.is_connected():
            break
        time.sleep(0.1)
    return proc, url, w3
