"""pytest plugin (tests/conftest.py's ``pytest_plugins``): each test module leaves the process's
logging as it found it.

The keepers configure logging once per process (keepers.core.logging.configure_logging:
structlog's level filter and the standard library's root level and handler), and a test that
runs a keeper, the demo or a CLI command in the test process configures it too. On an xdist
worker the next modules then ran under that configuration: after the demo's month (which leaves
structlog filtering at ERROR) a test that reads a keeper's warning from its captured output
(tests/offchain/pipeline/test_private_submission.py's ``private.public_fallback``) found
nothing, or not, by the order the worker took the files in. Here structlog's configuration, the
root logger's level and the keepers' own root handlers are put back when each module ends
(after its last test's teardown)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import structlog

from keepers.core.logging import is_keeper_handler

State = tuple[dict[str, Any], int, list[logging.Handler]]


def saved() -> State:
    """structlog's configuration, the root level and the root's keeper handlers (pytest's own
    capture handlers, which come and go with each test phase, are not the keepers')."""
    root = logging.getLogger()
    ours: list[logging.Handler] = [h for h in root.handlers if is_keeper_handler(h)]
    return structlog.get_config(), root.level, ours


def restore(state: State) -> None:
    config, level, ours = state
    structlog.configure(**config)
    root = logging.getLogger()
    root.setLevel(level)
    for old in [h for h in root.handlers if is_keeper_handler(h)]:
        root.removeHandler(old)
    for h in ours:
        root.addHandler(h)


@contextmanager
def logging_as_found() -> Iterator[None]:
    """The logging state of entry, restored on exit."""
    state = saved()
    try:
        yield
    finally:
        restore(state)


# Hooks, not an autouse fixture: a module-scoped fixture in every test's closure made ape take a
# module snapshot for every module (its isolation follows the scopes a test's fixtures have).
_module: list[Any] = [None, None]  # the module being run, its logging state at its start


def module_of(item: Any) -> str:
    """The test file an item belongs to (its node id up to the first ``::``)."""
    return str(item.nodeid).split("::", 1)[0]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: Any) -> None:
    if _module[0] != module_of(item):
        _module[0], _module[1] = module_of(item), saved()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: Any, nextitem: Any) -> None:
    """After the module's last test and its fixtures' teardown."""
    if _module[1] is not None and (nextitem is None or module_of(nextitem) != module_of(item)):
        restore(_module[1])
        _module[0] = _module[1] = None
