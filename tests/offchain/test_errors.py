"""One error root (issue 12): every error class the keepers define sits under KeeperError, and
the CLI and the worker map an error to the same exit status through keepers.core.errors."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import keepers
from keepers.core import errors
from keepers.core.errors import (
    EXIT_CONFIG,
    EXIT_DOMAIN,
    EXIT_HALTED,
    EXIT_UNAVAILABLE,
    KeeperError,
    exit_code,
)

# Control flow, not failures: caught where they are raised, never reach a process boundary.
CONTROL_FLOW = {
    "keepers.tx.pipeline.Retry",
    "keepers.crosschain.senders.StepPending",
    "keepers.crosschain.exact_search.OutOfWork",  # the exact search's work budget, caught inside
    # a body past the console's limit while it streams in: caught by the same middleware (413)
    "keepers.console.server._TooBig",
}


def _keeper_exceptions() -> list[type[BaseException]]:
    found = []
    for info in pkgutil.walk_packages(keepers.__path__, "keepers."):
        if ".migrations" in info.name:
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__ == info.name:
                found.append(cls)
    return found


def test_every_keepers_exception__under_the_one_root():
    classes = _keeper_exceptions()
    assert len(classes) > 20
    outside = [
        f"{c.__module__}.{c.__qualname__}"
        for c in classes
        if not issubclass(c, KeeperError) and f"{c.__module__}.{c.__name__}" not in CONTROL_FLOW
    ]
    assert outside == []


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("keepers.core.settings.ConfigError", EXIT_CONFIG),
        ("keepers.fund.settings.FundConfigError", EXIT_CONFIG),
        ("keepers.fund.planning.config.ConfigError", EXIT_CONFIG),
        ("keepers.crosschain.config.ConfigError", EXIT_CONFIG),
        ("keepers.runtime.runner.RunConfigError", EXIT_CONFIG),
        ("keepers.tx.contracts.DeploymentError", EXIT_CONFIG),
        ("keepers.tx.contracts.ChainMismatchError", EXIT_CONFIG),
        ("keepers.runtime.runner.NodeUnreachableError", EXIT_UNAVAILABLE),
        ("keepers.tx.retry.NetworkUnavailable", EXIT_UNAVAILABLE),
        ("keepers.tx.errors.NodeError", EXIT_UNAVAILABLE),
        ("keepers.store.db.StoreLockedError", EXIT_UNAVAILABLE),
        ("keepers.tx.errors.SignerConflict", EXIT_HALTED),
        ("keepers.runtime.runner.UnknownBotError", EXIT_DOMAIN),
        ("keepers.crosschain.planning.CrosschainPlanningError", EXIT_DOMAIN),
        ("keepers.portfolio.planning.PortfolioError", EXIT_DOMAIN),
    ],
)
def test_exit_code__each_branch__one_status(path, code):
    module, name = path.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    err = cls.__new__(cls)
    assert exit_code(err) == code


def test_exit_code__foreign_error__domain_status():
    assert exit_code(RuntimeError("x")) == EXIT_DOMAIN
    assert errors.EXIT_OK == 0


def test_worker_and_cli__import_the_same_map():
    from keepers import cli
    from keepers.tx import worker

    assert cli.exit_code is worker.exit_code is exit_code
