"""Keeper settings (pydantic-settings, env prefix ``KEEPER_``).

A bad value refuses to start: :func:`load_settings` turns pydantic's error into a
:class:`ConfigError` whose message names every offending field and the value it was given.
Nested settings use ``__`` (``KEEPER_POLICY__ROLES='{"keeper": {...}}'``) or a JSON policy file
(``KEEPER_POLICY_FILE``).

The settings by concern, each in its module, all re-exported here (every module of the keepers
imports them from here): keepers.core.keeper_settings (the core section, ``KeeperSettings``, and
the audit policy models), keepers.core.settings_tree (the sections, the one loader and the one
error translator), keepers.core.secret_scrub (secret names and shapes, the scrubbing).
"""

from __future__ import annotations

from keepers.core.keeper_settings import (
    LOCAL_CHAIN_IDS,
    AllowedCall,
    ConfigError,
    KeeperSettings,
    PolicyConfig,
    RolePolicy,
    StrList,
)
from keepers.core.secret_scrub import (
    REDACTED,
    env_secrets,
    is_secret_name,
    private_key_shaped,
    redact_key_tokens,
    redact_stored,
    register_secrets,
    scrub,
    secret_shaped,
    secret_values,
)
from keepers.core.settings_tree import (
    SECTIONS,
    Settings,
    describe_validation_error,
    dotted,
    env_names,
    load_settings,
    refuse_secret_shaped,
    refuse_secret_shaped_everywhere,
    secret_fields,
    section_class,
    shown_value,
    translate,
    variable_name,
)

__all__ = [
    "LOCAL_CHAIN_IDS",
    "REDACTED",
    "SECTIONS",
    "AllowedCall",
    "ConfigError",
    "KeeperSettings",
    "PolicyConfig",
    "RolePolicy",
    "Settings",
    "StrList",
    "describe_validation_error",
    "dotted",
    "env_names",
    "env_secrets",
    "is_secret_name",
    "load_settings",
    "private_key_shaped",
    "redact_key_tokens",
    "redact_stored",
    "refuse_secret_shaped",
    "refuse_secret_shaped_everywhere",
    "register_secrets",
    "scrub",
    "secret_shaped",
    "secret_fields",
    "secret_values",
    "section_class",
    "shown_value",
    "translate",
    "variable_name",
]
