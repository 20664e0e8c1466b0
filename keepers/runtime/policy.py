"""The audit policy every keeper process uses, built one way.

Every bot declares the contract calls it needs (keepers.runtime.bots); the policy is the roles
built from those declarations, merged with ``KEEPER_POLICY*`` (a configured role of the same
name wins). A standalone worker (``python -m keepers.tx.worker``, the replicas of a PostgreSQL
deployment) works the same intents, so it must audit them with the same roles: otherwise it
rejects every intent those bots submit unless an operator copies their roles by hand.

The roles are also stored (:func:`store_policy`, table ``audit_roles``): ``keeper run`` writes
the roles of the bots it starts, and a worker that has only the database URL and its signer
audits with the stored roles (:func:`stored_policy`) plus whatever its own environment adds.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from keepers.core.settings import KeeperSettings, PolicyConfig, RolePolicy
from keepers.runtime.bots import BotDeclaration, declared_policy


def worker_policy(
    settings: KeeperSettings,
    declarations: Mapping[str, BotDeclaration],
    environ: Mapping[str, str] | None = None,
) -> PolicyConfig:
    """The declared calls of every bot the environment configures (each declaration's
    ``load``: the fund bot's deployment record, ``KEEPER_EXECUTOR_*``, ``KEEPER_SUPERVISOR_*``,
    ``BALLAST_CROSSCHAIN_CONFIG``), then ``KEEPER_POLICY*`` (a configured role of the same
    name wins, as in the bots). A record or config that is present but broken raises
    (DeploymentError, ConfigError, ValidationError): the worker refuses to start rather than
    audit with less."""
    env = os.environ if environ is None else environ
    return merged(declared_from_env(env, declarations), settings.policy)


def declared_from_env(
    environ: Mapping[str, str],
    declarations: Mapping[str, BotDeclaration],
    names: Iterable[str] | None = None,
) -> PolicyConfig:
    """The policy built from the declared calls of the bots ``environ`` configures, of
    ``declarations`` (keepers.registry's, handed over by the entry point)."""
    decls = declarations
    calls = []
    for name in decls if names is None else names:
        cfg = decls[name].load(environ)
        if cfg is not None:
            calls.append(decls[name].calls(cfg))
    return declared_policy(calls)


def store_policy(store: Any, policy: PolicyConfig, written_by: str) -> None:
    """Write ``policy``'s roles to the store (one row per role, replaced by name), so that every
    process of the deployment audits with them, the standalone workers included. Roles not in
    ``policy`` are kept: another process's bots may have declared them."""
    from sqlalchemy import text

    from keepers.store.models import AuditRole

    with store.transaction() as s:
        if s.get_bind().dialect.name == "postgresql":  # replicas starting at the same moment
            s.execute(text("SELECT pg_advisory_xact_lock(727276)"))
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
