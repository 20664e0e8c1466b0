"""Constants shared by the fund-bot tests (a uniquely named module: `conftest` is not)."""

from pathlib import Path

UNIT = 10**6
ROOT = Path(__file__).resolve().parents[2]
NO_APPROVAL = {
    "APPROVAL_REVIEW_AMOUNT": "50000000",
    "REBALANCE_APPROVAL_THRESHOLD": "50000000",
    "APPROVAL_MULTISIG_AMOUNT": "50000000",
}
