"""Who is who among the local chain's test accounts (the ape test mnemonic), in one place.

The demo, the local profiles (scripts/profiles/local*.yaml name these indices), the fork
rehearsal and the tests read the names from here. ape-config.yaml's ``test.number_of_accounts``
must be larger than the largest index (14 accounts: 0..13).
"""

from __future__ import annotations

from typing import Any

DEPLOYER = 0
ADMIN = 1  # the EOA admin of scripts/profiles/local.yaml
KEEPER = 2
GUARDIAN = 3
INVESTORS = (4, 5, 6)
MARKET = 7  # the demo's arbitrageur
EXECUTOR = 8  # the demo's scheduler executor
SUPERVISOR = 9  # the demo's supervisor caller
# the admin Safe's owners (2 of 3) in scripts/profiles/local-safe.yaml and the demo's admins
ALICE, BOB, CAROL = 10, 11, 12
SAFE_OWNERS = {"alice": ALICE, "bob": BOB, "carol": CAROL}
SAFE_THRESHOLD = 2
FEE_RECIPIENT = 13  # the demo fund's fee recipient (scripts/profiles/local-safe.yaml: fees)
NUMBER_OF_ACCOUNTS = 14


def account(accounts: Any, index: int) -> Any:
    """The test account at ``index`` (ape's ``accounts`` or ``accounts.test_accounts``)."""
    return getattr(accounts, "test_accounts", accounts)[index]


def safe_owners(accounts: Any) -> dict[str, Any]:
    """alice, bob, carol as ape test accounts."""
    return {name: account(accounts, i) for name, i in SAFE_OWNERS.items()}
