"""pytest plugin (tests/conftest.py's ``pytest_plugins``): each test module leaves the process's
logging as it found it.

The keepers configure logging once per process (keepers.core.logging.configure_logging:
structlog's level filter and the standard library's root level and handler), and a test that
runs a keeper, the demo or a CLI command in the test process configures it too. On an xdist
worker the next modules then ran under that configuration: after the demo's month (which leaves
structlog filtering at ERROR) a test that reads a keeper's warning from its captured output
(tests/offchain/pipeline/test_private_submission.py's ``private.public_fallback``) found
nothing, or not, by the order the worker took the files in. Here structlog's configuration, the
root logger's level and the keepers' own root handlers are put back when each module ends."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import structlog

from keepers.core.logging import _StdlibHandler


@contextmanager
def logging_as_found() -> Iterator[None]:
    """structlog's configuration, the root level and the root's keeper handlers, restored on
    exit (pytest's own capture handlers, which come and go with each test phase, untouched)."""
    saved = structlog.get_config()
    root = logging.getLogger()
    level = root.level
    ours = [h for h in root.handlers if isinstance(h, _StdlibHandler)]
    try:
        yield
    finally:
        structlog.configure(**saved)
        root.setLevel(level)
        for h in [h for h in root.handlers if isinstance(h, _StdlibHandler)]:
            root.removeHandler(h)
        for h in ours:
            root.addHandler(h)


@pytest.fixture(scope="module", autouse=True)
def _module_logging_as_found() -> Iterator[None]:
    with logging_as_found():
        yield
