"""The audit policy every keeper process uses, built one way.

The fund bot and the cross-chain bot add their own roles to ``KEEPER_POLICY*`` inside their
processes (the controller's keeper functions; the tokens, CCTP and USDT0 contracts of the
cross-chain config). A standalone worker (``python -m keepers.tx.worker``, the replicas
of a PostgreSQL deployment) works the same intents, so it must audit them with the same roles:
otherwise it rejects every intent those bots submit unless an operator copies their roles by
hand. :func:`worker_policy` builds them from the same environment the bots read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from keepers.core.settings import KeeperSettings, PolicyConfig, RolePolicy


def worker_policy(
    settings: KeeperSettings, environ: Mapping[str, str] | None = None
) -> PolicyConfig:
    """``KEEPER_POLICY*`` plus, when their configuration is present, the fund bot's role (the
    deployment record of ``KEEPER_DEPLOYMENT``, or the fund bot's default path if that file
    exists) and the cross-chain bot's role (``BALLAST_CROSSCHAIN_CONFIG``). A configured role
    of the same name wins, as in the bots. A record or config that is present but broken raises
    (DeploymentError, ConfigError): the worker refuses to start rather than audit with less."""
    from keepers.fund.bot import ROLE as FUND_ROLE
    from keepers.fund.bot import fund_role
    from keepers.fund.settings import FundKeeperSettings
    from keepers.tx.contracts import FundAddresses

    env = os.environ if environ is None else environ
    roles: dict[str, RolePolicy] = {}
    explicit = env.get("KEEPER_DEPLOYMENT")
    default = FundKeeperSettings.model_fields["deployment"].default
    deployment = Path(explicit) if explicit else Path(default)
    if explicit or deployment.exists():
        roles[FUND_ROLE] = fund_role(FundAddresses.load(deployment).controller)
    cc_path = env.get("BALLAST_CROSSCHAIN_CONFIG")
    if cc_path:
        from keepers.crosschain.bot import crosschain_policy
        from keepers.crosschain.config import load_config

        roles.update(crosschain_policy(load_config(cc_path)).roles)
    roles.update(settings.policy.roles)
    return PolicyConfig(roles=roles)
