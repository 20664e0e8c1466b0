"""Session-wide fixtures: accounts named by role (Yearn style); the domain fixtures shared by
several test folders live in tests/support and are loaded here."""

import os

from ballast_dev.local.anvil_local import (
    forget_exited_ape_nodes,
    keep_ape_anvil_off_disk,
    retry_ape_anvil_on_a_taken_port,
)
from tests.support.roles import role_fixture

# Every alert any test raises (in this process or in a keeper it starts) must have a code listed
# in keepers.runtime.alerts.ALERT_CODES, and so a runbook entry: an unlisted one raises.
os.environ.setdefault("BALLAST_STRICT_ALERTS", "1")

pytest_plugins = [
    "tests.support.store_template",
    "tests.support.fixtures_fund",
    "tests.support.fixtures_automation",
    "tests.support.fixtures_safe",
    "tests.support.fixtures_portfolio",
    "tests.support.quiet_reverts",
    "tests.support.ape_speedups",
    "tests.support.ape_isolation",
    "tests.support.file_order",
    "tests.support.file_cpu",
    "tests.support.log_isolation",
    "tests.support.fee_isolation",
]


deployer = role_fixture(0, "deployer")
gov = role_fixture(
    1, "gov", "Admin: configuration (risk-increasing changes go through the timelock)."
)
keeper = role_fixture(2, "keeper", "Keeper: moves money between tiers.")
guardian = role_fixture(3, "guardian", "Guardian: pause and lower caps at once.")
alice = role_fixture(4, "alice")
bob = role_fixture(5, "bob")
attacker = role_fixture(6, "attacker")
whale = role_fixture(7, "whale")


def pytest_configure(config):
    # the anvil ape starts for each worker keeps no old state on disk (it left ~1.5 GB per
    # worker and run under ~/.foundry/anvil/tmp): ballast_dev/local/anvil_local.py
    keep_ape_anvil_off_disk()
    retry_ape_anvil_on_a_taken_port()
    # and ape's list of its nodes keeps only running ones (each exit scanned every anvil ape
    # ever started: 10-13 CPU-s a process at 455 entries)
    forget_exited_ape_nodes()
