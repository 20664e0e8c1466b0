"""The settings tree (keepers.core.settings): one section per bot, the one loader
(:func:`load_settings`) and the one error translator (:func:`translate`), which name the
variable and its value (secrets redacted) in every error."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    SecretBytes,
    SecretStr,
    ValidationError,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    SettingsError,
)
from pydantic_settings.sources.utils import parse_env_vars

from keepers.core.keeper_settings import ConfigError, KeeperSettings
from keepers.core.secret_scrub import (
    REDACTED,
    env_secrets,
    is_secret_name,
    private_key_shaped,
    scrub,
    secret_values,
)


def shown_value(loc: tuple[Any, ...], value: Any) -> str | None:
    """How an offending input is shown: never a secret, never a whole document."""
    if any(is_secret_name(str(p)) for p in loc) or isinstance(value, SecretStr | SecretBytes):
        return REDACTED
    if isinstance(value, Mapping | list | tuple | set):
        # a whole (sub-)document: the message names what is wrong instead (an empty one is
        # shown, it is the point)
        return None if value else repr(value)
    return repr(value)


def dotted(loc: tuple[Any, ...]) -> str:
    """``a.b.0`` for a pydantic location."""
    return ".".join(str(part) for part in loc)


def describe_validation_error(
    err: ValidationError,
    name: Callable[[tuple[Any, ...]], str] = dotted,
    root: str = "<settings>",
    env: Mapping[str, str] | None = None,
    first_only: bool = False,
    secrets: Iterable[str] = (),
) -> str:
    """The one translator of pydantic errors for every keeper and deploy configuration.

    Each error reads ``NAME=VALUE: message`` (``NAME: message`` when the input is a whole
    document). Secret fields are shown as ``<redacted>``, and every secret value found in the
    inputs or in the environment is scrubbed from the text, so no message carries a key.
    """
    secrets = env_secrets(env) | set(secrets)
    parts = []
    errors = err.errors(include_url=False)
    for e in errors[:1] if first_only else errors:
        loc = tuple(e["loc"])
        secret_values(e.get("input"), secrets)
        label = name(loc) if loc else root
        # a missing field has no value of its own (its "input" is the enclosing document)
        value = None if e["type"] == "missing" else shown_value(loc, e.get("input"))
        parts.append(
            f"{label}={value}: {e['msg']}" if value is not None else f"{label}: {e['msg']}"
        )
    return scrub("; ".join(parts), secrets)


# ------------------------------------------------------------------------ the settings tree
#
# One section per bot, each a pydantic-settings class with its own environment prefix:
#
#   core        KEEPER_*              keepers.core.settings.KeeperSettings
#   fund        KEEPER_* (+ fund's)   keepers.fund.settings.FundKeeperSettings
#   planning    seed 001 section 8.1  keepers.fund.planning.config.PlanningConfig
#                (the seed's names, no prefix: REBALANCE_MAX_SLIPPAGE, L1_TARGET_RATIO, ...)
#   executor    KEEPER_EXECUTOR_*     keepers.automation.settings.ExecutorConfig
#   supervisor  KEEPER_SUPERVISOR_*   keepers.automation.settings.SupervisorBotConfig
#   crosschain  BALLAST_CROSSCHAIN_*  keepers.crosschain.config.CrosschainSettings (the path of
#                                     its YAML/JSON file; the file itself is validated by
#                                     keepers.crosschain.config.load_config)
#
# :func:`load_settings` is the one loader and :func:`translate` the one error translator.

SECTIONS: dict[str, str] = {
    "core": "keepers.core.settings:KeeperSettings",
    "fund": "keepers.fund.settings:FundKeeperSettings",
    "planning": "keepers.fund.planning.config:PlanningConfig",
    "executor": "keepers.automation.settings:ExecutorConfig",
    "supervisor": "keepers.automation.settings:SupervisorBotConfig",
    "crosschain": "keepers.crosschain.config:CrosschainSettings",
    "console": "keepers.console.settings:ConsoleSettings",
}


def section_class(name: str) -> type[BaseSettings]:
    """The settings class of section ``name`` (imported on demand: the slices import this
    module, not the other way round)."""
    import importlib

    if name not in SECTIONS:
        raise KeyError(f"unknown settings section {name!r}; known: {', '.join(SECTIONS)}")
    module, cls = SECTIONS[name].split(":")
    section: type[BaseSettings] = getattr(importlib.import_module(module), cls)
    return section


class Settings(BaseModel):
    """The settings tree: one validated section per bot (None where not loaded)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    core: KeeperSettings | None = None
    fund: Any = None  # FundKeeperSettings
    planning: Any = None  # PlanningConfig
    executor: Any = None  # ExecutorConfig
    supervisor: Any = None  # SupervisorBotConfig
    crosschain: Any = None  # CrosschainSettings
    console: Any = None  # ConsoleSettings


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' own environment source, reading ``env`` instead of os.environ (the
    same decoding of JSON values, ``__`` nesting and aliases as a plain ``cls()``)."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._given = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._given, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


def env_names(cls: type[BaseModel], field: str) -> list[str]:
    """The environment variables that set ``field`` of section ``cls``, preferred first."""
    info = cls.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, AliasChoices):
        return [str(a) for a in alias.choices if isinstance(a, str)]
    if isinstance(alias, str):
        return [alias]
    return [str(cls.model_config.get("env_prefix", "")) + field.upper()]


def _lookup(env: Mapping[str, str], name: str) -> bool:
    upper = name.upper()
    return any(k.upper() == upper for k in env)


def variable_name(
    cls: type[BaseModel],
    loc: tuple[Any, ...],
    env: Mapping[str, str],
    overrides: Mapping[str, Any] = {},  # noqa: B006 - read only
) -> str:
    """What to call the input at ``loc``: the environment variable that set it (the one of
    its names that is set, with the path inside it for a JSON value, e.g.
    ``KEEPER_POLICY[roles.keeper.allowed.0.contract]``), or the field's dotted name when it
    was passed as a keyword (``load_settings(ExecutorConfig, scheduler=...)``)."""
    if not loc:
        return f"{cls.model_config.get('env_prefix', '')}*"
    field = str(loc[0])
    if field in overrides:
        return dotted(loc)
    names = env_names(cls, field)
    prefix = names[0][: len(names[0]) - len(field)]
    # the longest nested variable that is set: KEEPER_POLICY__ROLES, else KEEPER_POLICY
    for k in range(len(loc), 1, -1):
        nested = prefix + "__".join(str(p) for p in loc[:k]).upper()
        if _lookup(env, nested):
            rest = dotted(loc[k:])
            return nested + (f"[{rest}]" if rest else "")
    name = next((n for n in names if _lookup(env, n)), names[0])
    rest = dotted(loc[1:])
    return name + (f"[{rest}]" if rest else "")


def secret_fields(cls: type[BaseModel]) -> set[str]:
    out = set()
    for name, info in cls.model_fields.items():
        if "Secret" in str(info.annotation) or is_secret_name(name):
            out.add(name)
    return out


def translate(
    err: ValidationError,
    cls: type[BaseModel],
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] = {},  # noqa: B006 - read only
) -> ConfigError:
    """The one error translator: a :class:`ConfigError` whose message names each variable and
    its value (``KEEPER_CHAIN_ID='abc': Input should be a valid integer``), secrets redacted.

    A validator that already raised a ConfigError (a rule across variables, worded by the
    section) is passed on as it is."""
    env = os.environ if env is None else env
    first = err.errors(include_url=False)[0]
    ctx_error = (first.get("ctx") or {}).get("error")
    if isinstance(ctx_error, ConfigError):
        return ctx_error
    secrets = set()
    for name in secret_fields(cls):
        for var in env_names(cls, name):
            secrets |= {v for k, v in env.items() if k.upper() == var.upper() and v}
        value = overrides.get(name)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str) and value:
            secrets.add(value)
    text = describe_validation_error(
        err,
        name=lambda loc: variable_name(cls, loc, env, overrides),
        root=variable_name(cls, (), env),
        env=env,
        secrets=secrets,
    )
    if not first["loc"] and not overrides:
        names = [n for f in cls.model_fields for n in env_names(cls, f)[:1]]
        text += f" (variables: {', '.join(names)})"
    return ConfigError(text)


def refuse_secret_shaped(
    cls: type[BaseModel],
    env: Mapping[str, str],
    overrides: Mapping[str, Any] = {},  # noqa: B006 - read only
) -> None:
    """A ConfigError (exit 2) when a setting that is not a secret holds a private key or a
    mnemonic: the key would be stored (KEEPER_REPLICA_ID is the replica's name in the store)
    and printed by every later `keeper status`. The message names the setting, never the
    value. The secret settings (KEEPER_SIGNER_KEY, ...) are the only place for a key.

    Only a key-shaped value can be refused, so those are found first, in the environment's
    order; with none (an operator's usual environment) no setting's names are looked up. The
    first one refused is the one the plain loop (each setting in turn over the whole
    environment) refuses: tests/offchain/test_settings_secret_shaped.py holds the two equal."""
    shaped = [(k, v) for k, v in env.items() if private_key_shaped(v)]
    if not shaped and not any(private_key_shaped(v) for v in overrides.values()):
        return
    secrets = secret_fields(cls)
    for field in cls.model_fields:
        if field in secrets:
            continue
        names = env_names(cls, field)
        upper = {n.upper() for n in names}
        # nested variables of a complex setting too (KEEPER_POLICY__ROLES)
        nested = tuple(n.upper() + "__" for n in names)
        given = [k for k, _ in shaped if k.upper() in upper or k.upper().startswith(nested)]
        if field in overrides and private_key_shaped(overrides[field]):
            given.append(field)
        if given:
            name = given[0]
            raise ConfigError(
                f"{name.upper() if name in env else name}={REDACTED}: this value is a "
                "private key (or a mnemonic), which no setting but the signer's may hold "
                "(it would be stored and printed); a key goes in KEEPER_SIGNER_KEY or the "
                "ape account (KEEPER_SIGNER_ALIAS), never here"
            )


def refuse_secret_shaped_everywhere(env: Mapping[str, str] | None = None) -> None:
    """`refuse_secret_shaped` over every section of the settings tree, whether or not this
    command loads it: the CLI checks it first, so a key pasted into any setting (one of a bot
    that is not running too) refuses to start with exit 2. The environment is read once: only
    its key-shaped values go on to the sections."""
    env = os.environ if env is None else env
    shaped = {k: v for k, v in env.items() if private_key_shaped(v)}
    if not shaped:
        return
    for name in SECTIONS:
        refuse_secret_shaped(section_class(name), shaped)


def refuse_removed(cls: type[BaseSettings], env: Mapping[str, str]) -> None:
    """A section's ``removed_settings`` ({OLD_NAME: what replaces it}) set in ``env`` is refused,
    naming the old variable and its replacement: a removed setting never silently stops
    working."""
    removed: Mapping[str, str] = getattr(cls, "removed_settings", {})
    for key in env:
        why = removed.get(key.upper())
        if why is not None:
            raise ConfigError(f"{key.upper()} was removed: {why}")


def _load_section(
    cls: type[BaseSettings], env: Mapping[str, str] | None, overrides: Mapping[str, Any]
) -> Any:
    env = os.environ if env is None else env
    refuse_secret_shaped(cls, env, overrides)
    refuse_removed(cls, env)
    try:
        values = _MappingEnvSource(cls, env)()
        # a keyword wins over the environment (as pydantic-settings' init source does)
        return cls.model_validate({**values, **overrides})
    except ValidationError as err:
        raise translate(err, cls, env, overrides) from None
    except SettingsError as err:  # a complex value that is not JSON (KEEPER_POLICY='{')
        found = re.search(r'field "(\w+)"', str(err))
        field = found.group(1) if found else ""
        name = variable_name(cls, (field,), env) if field in cls.model_fields else cls.__name__
        value = REDACTED if field in secret_fields(cls) else None
        shown = "" if value is None else f"={value}"
        raise ConfigError(f"{name}{shown}: not valid JSON for this setting") from None
    except (OSError, json.JSONDecodeError) as err:  # KEEPER_POLICY_FILE unreadable
        raise ConfigError(scrub(str(err), env_secrets(env))) from None


def load_settings(
    section: type[BaseSettings] | str = KeeperSettings,
    /,
    *,
    env: Mapping[str, str] | None = None,
    sections: Iterable[str] | None = None,
    **overrides: Any,
) -> Any:
    """The one loader. ``load_settings(env=..., sections=("core", "executor"))`` returns a
    :class:`Settings` tree with those sections; ``load_settings(ExecutorConfig, scheduler=...)``
    (a class or a section name) returns that one section, keywords overriding the environment.
    ``env`` is the whole environment (os.environ when None). A bad value raises the one
    :class:`ConfigError`, naming the variable and the value (secrets redacted)."""
    if sections is not None:
        return Settings(**{n: _load_section(section_class(n), env, {}) for n in sections})
    cls = section_class(section) if isinstance(section, str) else section
    return _load_section(cls, env, overrides)
