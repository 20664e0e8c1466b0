"""The admin Safe's fixtures, shared by the Safe-admin, PlanExecutor and Safe-deploy tests
(loaded for the whole suite with ``pytest_plugins`` in tests/conftest.py).

Owners: alice and bob (tests/conftest.py) and carol (test account 12, the demo's carol:
ballast_dev/local/actors.py); dave (no seat) is swapped in for an owner. The Safe is the one the
deploy and the demo make: a proxy of the canonical Safe 1.4.1 (SafeL2, SafeProxyFactory and
CompatibilityFallbackHandler at the safe-deployments addresses, deployed on the test chain
through Safe's singleton factory: ballast_dev/deployment/canonical_safe.py), 2 of 3, created per
module (ape restores each module's chain snapshot).
"""

import pytest

from ballast_dev.deployment.safe import deploy_safe
from ballast_dev.local.actors import CAROL

SAFE_THRESHOLD = 2


@pytest.fixture(scope="session")
def carol(accounts):
    return accounts[CAROL]


@pytest.fixture(scope="session")
def dave(accounts):
    return accounts[9]


@pytest.fixture(scope="module")
def safe(deployer, alice, bob, carol):
    return deploy_safe(deployer, [alice, bob, carol], SAFE_THRESHOLD)


def safe_per_base_coin():
    """The ``safe`` fixture for a module of tests/contracts/fund run for each base coin: set up
    again for each, since that folder's ``base_decimals`` reverts the chain between them (a
    Safe deployed in the 6-decimal part would be gone in the 18-decimal one). In the module:
    ``safe = safe_per_base_coin()``."""

    @pytest.fixture(scope="module", name="safe")
    def _safe(deployer, alice, bob, carol, base_decimals):
        return deploy_safe(deployer, [alice, bob, carol], SAFE_THRESHOLD)

    return _safe
