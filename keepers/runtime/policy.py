"""The audit policy every keeper process uses, built one way.

The fund bot and the cross-chain bot add their own roles to ``KEEPER_POLICY*`` inside their
processes (the controller's keeper functions; the tokens, CCTP and USDT0 contracts of the
cross-chain config). A standalone worker (``python -m keepers.tx.worker``, the replicas
of a PostgreSQL deployment) works the same intents, so it must audit them with the same roles:
otherwise it rejects every intent those bots submit unless an operator copies their roles by
hand. :func:`worker_policy` builds them from the same environment the bots read.

The roles are also stored (:func:`store_policy`, table ``audit_roles``): ``keeper run`` writes
the roles of the bots it starts, and a worker that has only the database URL and its signer
audits with the stored roles (:func:`stored_policy`) plus whatever its own environment adds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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
        from keepers.crosschain.route_contracts import load_with_routes

        # with BALLAST_CROSSCHAIN_ROUTES applied, as the bot does: same contracts, same role
        roles.update(crosschain_policy(load_with_routes(cc_path, env)[0]).roles)
    roles.update(settings.policy.roles)
    return PolicyConfig(roles=roles)


def store_policy(store: Any, policy: PolicyConfig, written_by: str) -> None:
    """Write ``policy``'s roles to the store (one row per role, replaced by name), so that every
    process of the deployment audits with them, the standalone workers included. Roles not in
    ``policy`` are kept: another process's bots may have declared them."""
    from keepers.store.models import AuditRole

    with store.transaction() as s:
        for name, role in policy.roles.items():
            row = s.get(AuditRole, name)
            data = role.model_dump(mode="json")
            if row is None:
                s.add(AuditRole(name=name, policy=data, written_by=written_by))
            elif row.policy != data:
                row.policy = data
                row.written_by = written_by


def stored_policy(store: Any) -> PolicyConfig:
    """The roles the bots stored (empty before any bot has started)."""
    from sqlalchemy import select

    from keepers.store.models import AuditRole

    with store.sessions() as s:
        rows = s.scalars(select(AuditRole)).all()
        return PolicyConfig(roles={r.name: RolePolicy.model_validate(r.policy) for r in rows})


def merged(*policies: PolicyConfig) -> PolicyConfig:
    """Roles of every policy, a later policy's role winning by name."""
    roles: dict[str, RolePolicy] = {}
    for p in policies:
        roles.update(p.roles)
    return PolicyConfig(roles=roles)
