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

__version__ = "0.2.0.dev0"

CONTRACTS_RELEASE: str = re.match(r"\d+\.\d+\.\d+", __version__).group()  # type: ignore[union-attr]

# Contracts of 0.1.0 (and before) have no RELEASE() view: what the keeper calls them.
LEGACY_RELEASE = "0.1.0 or older"

# Contract releases this keeper drives besides its own, each with the features that are off
# there (said once at start-up). 0.1.0 differs from 0.2.0 only by the RELEASE() view.
SUPPORTED_OLDER: dict[str, tuple[str, ...]] = {
    LEGACY_RELEASE: (
        "the held-feed safeguard on a rebalancer without trustedTarget() (contracts older "
        "than 0.1.0; each such rebalancer is named when the executor first meets it)",
        "plans name their deployment without a release (a redeploy of the same code at the "
        "same addresses is not told apart)",
    ),
}

# The page a release mismatch points the operator at (the site's path and the file's).
UPGRADE_PAGE = "docs/operator/upgrades.md"
