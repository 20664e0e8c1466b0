"""The project's one version: the keepers wheel, the contracts and the docs site share it.

``__version__`` is the single source (PEP 440): pyproject.toml reads it (setuptools' dynamic
version), ``keeper --version`` prints it, the docs site shows it (docs/hooks.py). Between two
releases the branch head is the next version in development (``0.2.0.dev0``): a release
removes the ``.devN`` suffix, tags the commit ``v<version>`` and moves CHANGELOG.md's
Unreleased section under the version's heading (docs/development/releases.md).

``CONTRACTS_RELEASE`` is the contract release the wheel's ABIs (keepers/abis) belong to: the
version without its pre-release suffix. Every deployable contract answers it
(``RELEASE()``, a bytes32 constant from contracts/libraries/ReleaseLib.sol; a test holds the
two equal), the deployment record stores it, and every bot compares the contracts it drives
with it at start-up (keepers.tx.release).
"""

from __future__ import annotations

import re

__version__ = "0.3.0.dev0"

CONTRACTS_RELEASE: str = re.match(r"\d+\.\d+\.\d+", __version__).group()  # type: ignore[union-attr]

# Contracts of 0.1.0 (and before) have no RELEASE() view: what the keeper calls them.
LEGACY_RELEASE = "0.1.0 or older"

# Contract releases this keeper drives besides its own, each with what its contracts lack:
# (key, the configured contract that lacks it, words). A bot names once at start-up those of
# the contracts it is configured for (keepers.tx.release); `keeper status`, the metrics
# (keeper_contract_feature_absent) and the console say "not in these contracts" for each key,
# never a value. 0.1.0's rebalancers have trustedTarget(): the held-feed safeguard is on there
# (a rebalancer without it, older than 0.1.0, is named by the executor when it meets it).
NOT_IN_OLDER: dict[str, tuple[tuple[str, str, str], ...]] = {
    LEGACY_RELEASE: (
        ("fees", "vault", "fees (TieredVault.fees, highWaterMark, pendingFeeShares)"),
        ("valuation_holds", "controller", "valuation step bounds (AssetController.priceHold)"),
        ("in_kind", "vault", "the in-kind exit (TieredVault.redeemInKind, previewRedeemInKind)"),
        (
            "venue_room",
            "controller",
            "each venue's room read before a purchase (the adapters' investableNow)",
        ),
        (
            "accounted_units",
            "lens",
            "accounted units (AssetController.accountedUnits: the lens reports raw balances, "
            "so an outsider's transfer to the controller counts as the fund's)",
        ),
        ("exit_horizon", "lens", "the exit horizon (FundLens.exitHorizon)"),
        (
            "protocol_share",
            "scheduler",
            "the scheduler's protocol share (RebalanceScheduler.protocolShareBps)",
        ),
        (
            "credit",
            "scheduler",
            "the scheduler's pull payment (RebalanceScheduler.credits, withdrawCredit): its "
            "executions pay by value, the executor has nothing to withdraw",
        ),
        (
            "release",
            "controller",
            "RELEASE(): plans name their deployment without a release (a redeploy of the same "
            "code at the same addresses is not told apart)",
        ),
    ),
    # 0.2.0's contracts have every feature this keeper reads but the scheduler's pull payment
    # (issue 68; tests/offchain/upgrade/test_upgrade_from_0_2_0.py): driven as they are
    "0.2.0": (
        (
            "credit",
            "scheduler",
            "the scheduler's pull payment (RebalanceScheduler.credits, withdrawCredit): its "
            "executions pay by value, the executor has nothing to withdraw",
        ),
    ),
}
SUPPORTED_OLDER: dict[str, tuple[str, ...]] = {
    r: tuple(words for _key, _contract, words in lacks) for r, lacks in NOT_IN_OLDER.items()
}
NOT_IN_CONTRACTS = "not in these contracts"

# The page a release mismatch points the operator at (the site's path and the file's).
UPGRADE_PAGE = "docs/operator/upgrades.md"
