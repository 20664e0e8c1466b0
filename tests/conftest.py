"""Session-wide fixtures: accounts named by role (Yearn style); the domain fixtures shared by
several test folders live in tests/support and are loaded here."""

import pytest

pytest_plugins = [
    "tests.support.fixtures_fund",
    "tests.support.fixtures_automation",
    "tests.support.quiet_reverts",
]


@pytest.fixture(scope="session")
def deployer(accounts):
    return accounts[0]


@pytest.fixture(scope="session")
def gov(accounts):
    """Admin: configuration (risk-increasing changes go through the timelock)."""
    return accounts[1]


@pytest.fixture(scope="session")
def keeper(accounts):
    """Keeper: moves money between tiers."""
    return accounts[2]


@pytest.fixture(scope="session")
def guardian(accounts):
    """Guardian: pause and lower caps at once."""
    return accounts[3]


@pytest.fixture(scope="session")
def alice(accounts):
    return accounts[4]


@pytest.fixture(scope="session")
def bob(accounts):
    return accounts[5]


@pytest.fixture(scope="session")
def attacker(accounts):
    return accounts[6]


@pytest.fixture(scope="session")
def whale(accounts):
    return accounts[7]
