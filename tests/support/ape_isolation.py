"""pytest plugin (tests/conftest.py's ``pytest_plugins``): ape's chain isolation judged by the
fixture a test really uses, not by every fixture of the session that shares its name.

ape (0.8, ``ape/pytest/fixtures.py``) takes an ``evm_snapshot`` before each scope's fixtures and
reverts to it when the scope ends. Two of its decisions looked a fixture up by NAME among every
definition collected in the session (``session._fixturemanager._arg2fixturedefs``), and this
suite defines several names more than once, at different scopes:

- Where a test's fixtures are set up relative to the snapshots (``FixtureMap.from_test_item``):
  a name was listed under the scope of EVERY definition of it, and pytest sets a fixture up at
  its first place in the list. A function-scoped ``invested`` (test_wind_down.py and five more
  contract test files) was set up at the module scope's place, before the test's own snapshot,
  because test_deploy_safe.py defines a module-scoped ``invested``: the test's deposits,
  purchases and day's warp were never reverted, and each test of the module, then the module's
  second decimals' run, started on what the one before had left (test_wind_down's 18-decimal
  fund was deployed 8 days on, over the 6-decimal tests' moves). Collected alone, the file was
  isolated; collected with the suite, it was not. Here a name goes under the scope of the
  definition pytest uses for the test (``name2fixturedefs[name][-1]``, the closest one).
- Whether a fixture changes the chain (``FixtureManager.is_stateful``): ape records the block
  height when a name is first set up and first torn down, once per NAME, and when they are
  equal it calls every fixture of that name stateless for the rest of the session. A stateless
  fixture is neither re-created nor counted as new when ape "rebases" (a session fixture first
  requested in the middle of a module: ape reverts to the module's snapshot and drops the
  module's fixtures, to set them up again after it). One ``fund`` that deploys nothing (a record
  of a fund already deployed) made every ``fund`` stateless: after a rebase, a module's own
  deployed fund was kept as a cached object whose contracts the revert had removed
  (ContractNotFoundError, "Transaction did not revert"). Here a name defined more than once in
  the session is never judged stateless (ape treats an unknown as stateful); a name defined once
  keeps ape's judgement.

tests/offchain/test_ape_isolation.py holds both, on the real ape and anvil.
"""

from __future__ import annotations

from typing import Any

from ape.pytest.fixtures import FixtureManager, FixtureMap

# every fixture definition of the session by name, set once collection is done
_DEFS_BY_NAME: dict[str, Any] = {}


def _from_test_item(cls: type[FixtureMap], item: Any) -> FixtureMap:
    """ape's ``FixtureMap.from_test_item`` with each name under the scope of the definition the
    test uses (ape's own order of names kept)."""
    obj = cls(item)
    used = item._fixtureinfo.name2fixturedefs
    for name, info_ls in obj._arg2fixturedefs.items():
        if not info_ls or name not in item.fixturenames:
            continue
        defs = used.get(name)
        if not defs:  # not a fixture of this test (a parameter's name): as ape did
            for info in info_ls:
                obj[info.scope].append(name)
            continue
        obj[defs[-1].scope].append(name)
    return obj


def _stateful_unless_shared(original: Any) -> Any:
    def is_stateful(self: FixtureManager, name: str) -> bool | None:
        if len(_DEFS_BY_NAME.get(name) or ()) > 1:
            return None  # unknown: ape re-creates it on a rebase, as it would a stateful one
        return original(self, name)

    is_stateful._ballast_patched = True  # type: ignore[attr-defined]
    return is_stateful


def pytest_configure(config: Any) -> None:
    FixtureMap.from_test_item = classmethod(_from_test_item)  # type: ignore[method-assign,assignment]
    if not getattr(FixtureManager.is_stateful, "_ballast_patched", False):
        FixtureManager.is_stateful = _stateful_unless_shared(FixtureManager.is_stateful)  # type: ignore[method-assign]


def pytest_collection_finish(session: Any) -> None:
    _DEFS_BY_NAME.clear()
    _DEFS_BY_NAME.update(session._fixturemanager._arg2fixturedefs)
