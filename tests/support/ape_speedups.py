"""pytest plugin (tests/conftest.py's ``pytest_plugins``): two per-request costs of the test
process that repeat unchanged thousands of times a run, removed for the suite only.

- ``FoundryProvider.settings`` re-validates the provider's whole pydantic-settings model on
  every access (``ProviderAPI.settings``: ``model_validate`` of the config merged with
  ``provider_settings``, which reads the environment again); ape-foundry reads it about six
  times per transaction (request timeout, gas price, optimism check, ...). Here the validated
  model is kept per provider and reused while ``provider_settings`` and the config object are
  the same ones (a changed ``provider_settings`` builds it anew).
- ``requests`` looks for proxy variables in the whole environment on every JSON-RPC request
  (``Session.merge_environment_settings`` -> ``getproxies_environment``): the suite only talks
  to nodes on loopback, so the test process's web3 sessions do not read the environment.

Profiled on a mint loop (tests with a chain): ... ms CPU per transaction before, ... after.
``BALLAST_APE_SPEEDUPS=0`` turns both off.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ape_foundry.provider import FoundryProvider
from web3._utils.http_session_manager import HTTPSessionManager
from web3.eth import Eth

# anvil answers eth_sendRawTransaction before its automine task has mined the block now and
# then (about one transaction in seven on a loaded machine), and web3 then polls for the
# receipt every 100 ms: most of that wait is the poll interval, not the node
RECEIPT_POLL_S = 0.005

_settings_cache: dict[int, tuple[Any, str, Any]] = {}


def _cached_settings(original: Any) -> Any:
    def settings(self: Any) -> Any:
        key = json.dumps(self.provider_settings, sort_keys=True, default=repr)
        hit = _settings_cache.get(id(self))
        if hit is not None and hit[0] is self.config and hit[1] == key:
            return hit[2]
        value = original.fget(self)
        _settings_cache[id(self)] = (self.config, key, value)
        return value

    settings.__wrapped__ = original  # type: ignore[attr-defined]
    return property(settings)


def _session_without_env(original: Any) -> Any:
    def cache_and_return_session(self: Any, *args: Any, **kwargs: Any) -> Any:
        session = original(self, *args, **kwargs)
        session.trust_env = False
        return session

    cache_and_return_session.__wrapped__ = original  # type: ignore[attr-defined]
    return cache_and_return_session


def _faster_receipt_poll(original: Any) -> Any:
    def wait_for_transaction_receipt(
        self: Any, transaction_hash: Any, timeout: float = 120, poll_latency: float = 0.1
    ) -> Any:
        return original(self, transaction_hash, timeout, min(poll_latency, RECEIPT_POLL_S))

    wait_for_transaction_receipt.__wrapped__ = original  # type: ignore[attr-defined]
    return wait_for_transaction_receipt


def pytest_configure(config: Any) -> None:
    if os.environ.get("BALLAST_APE_SPEEDUPS") == "0":
        return
    current = FoundryProvider.__dict__["settings"]
    if not hasattr(current.fget, "__wrapped__"):
        FoundryProvider.settings = _cached_settings(current)  # type: ignore[method-assign]
    if not hasattr(HTTPSessionManager.cache_and_return_session, "__wrapped__"):
        HTTPSessionManager.cache_and_return_session = _session_without_env(  # type: ignore[method-assign]
            HTTPSessionManager.cache_and_return_session
        )
    if not hasattr(Eth.wait_for_transaction_receipt, "__wrapped__"):
        Eth.wait_for_transaction_receipt = _faster_receipt_poll(  # type: ignore[method-assign]
            Eth.wait_for_transaction_receipt
        )
