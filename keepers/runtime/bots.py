"""The bot model: every keeper bot declares itself as data (issue 12, "one bot model").

A :class:`BotDeclaration` says what a bot is, beside its code (``keepers/fund/bot.py``,
``keepers/automation/executor.py``, ``keepers/automation/supervisor.py``,
``keepers/crosschain/bot.py``):

- ``name`` (what ``keeper run --bots`` takes) and ``settings`` (its settings section: the
  environment prefix its loader reads; the settings themselves stay in their slice's loader);
- ``triggers``: when it acts (an interval, a cron, a contract event), for the reader and the
  operator (``keeper run`` logs them with each bot's role and calls: ``runtime.bot_declared``);
  the runner drives interval bots with :func:`keepers.runtime.base.run_loop` and cron jobs
  with APScheduler, and the event triggers are read by the bot's own log scan (no websocket
  subscription: a tick reads the logs since the last block, which survives restarts and
  reorgs the same way);
- ``calls``: given the bot's loaded config, the contract calls it needs, as one
  :class:`Calls` (the audit role its intents carry, each contract's address and where the
  address comes from, the function signatures, the value cap);
- how ``keeper run`` builds it (keepers.runtime.runner, one loop over the chosen
  declarations): ``configure()`` loads its settings section (a ConfigError naming the
  variable), ``declared_from(config)`` is what ``calls`` takes, ``build(context, config)``
  makes the bot on the runtime's :class:`BotContext` (store, signer, pipeline, alerter, stop
  event), and ``jobs(bot)`` gives its cron jobs. A bot with an interval trigger runs in its
  own :func:`keepers.runtime.base.run_loop` thread; one with cron triggers runs its jobs in
  APScheduler's worker. Adding a bot is one declaration beside its code, listed in
  ``keepers.registry.declarations`` (a composition root: this module imports no slice), and its
  settings section.

The audit policy is built from the declared calls of every bot (:func:`declared_policy`),
merged with ``KEEPER_POLICY*`` (a configured role of the same name wins), stored, and read by
every process (keepers.runtime.policy). No operator writes the bots' roles by hand.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from eth_utils import keccak

from keepers.core.settings import AllowedCall, PolicyConfig, RolePolicy


def selector(signature: str) -> str:
    """``0x`` + the first four bytes of keccak(signature)."""
    return "0x" + keccak(text=signature)[:4].hex()


@dataclass(frozen=True)
class Trigger:
    """Exactly one of ``interval_s`` (seconds, or the name of the setting that holds them),
    ``cron`` (APScheduler CronTrigger fields, UTC) and ``event`` (``Contract.Event``)."""

    interval_s: float | str | None = None
    cron: str | None = None
    event: str | None = None

    def __post_init__(self) -> None:
        if sum(x is not None for x in (self.interval_s, self.cron, self.event)) != 1:
            raise ValueError("a trigger is one of interval_s, cron, event")

    def describe(self) -> str:
        if self.interval_s is not None:
            return f"every {self.interval_s}" + (
                "s" if not isinstance(self.interval_s, str) else ""
            )
        return f"cron {self.cron}" if self.cron is not None else f"event {self.event}"


@dataclass(frozen=True)
class Call:
    """Functions a bot calls on one contract. ``source`` says where the address comes from
    (a setting or a config field), for the error messages and the README."""

    contract: str
    signatures: tuple[str, ...]
    source: str = ""

    def allowed(self) -> list[AllowedCall]:
        return [AllowedCall(contract=self.contract, selector=selector(s)) for s in self.signatures]


@dataclass(frozen=True)
class Calls:
    """The audit role a bot's intents carry and every call it may make under it."""

    role: str
    calls: tuple[Call, ...]
    max_value_wei: int = 0

    def role_policy(self) -> RolePolicy:
        allowed: list[AllowedCall] = []
        for c in self.calls:
            for a in c.allowed():
                if a not in allowed:
                    allowed.append(a)
        return RolePolicy(allowed=allowed, max_value_wei=self.max_value_wei)


@dataclass
class BotContext:
    """What ``keeper run`` shares with every bot it builds: the settings (with the stored,
    merged audit policy), the store, the signer, the pipeline of the node's chain, the
    alerter, the stop event (set on SIGTERM / SIGINT: start nothing new), and
    ``pipeline_for(chain_id, rpc_url)``: the pipeline of another chain, on the same store,
    signer and policy (one per chain in the process)."""

    settings: Any
    store: Any
    signer: Any
    pipeline: Any
    alerter: Any
    stop_event: Any
    pipeline_for: Callable[[int, str], Any]


def _same(config: Any) -> Any:
    return config


@dataclass(frozen=True)
class BotDeclaration:
    """One bot as data. ``load(environ)`` returns its config through its slice's loader, or
    None when the environment does not configure it (a standalone worker then builds no role
    for it); ``calls(config)`` its declared calls.

    For ``keeper run``: ``configure()`` its config from the process environment, strictly
    (raises keepers.core.settings.ConfigError naming the variable; the bot is wanted);
    ``declared_from(config)`` what ``calls`` takes (default: the config itself);
    ``build(context, config)`` the bot; ``jobs(bot)`` its cron jobs
    (keepers.runtime.scheduler.JobSpec), for bots with cron triggers."""

    name: str
    settings: str
    triggers: tuple[Trigger, ...]
    calls: Callable[[Any], Calls]
    load: Callable[[Mapping[str, str]], Any]
    doc: str = field(default="", compare=False)
    configure: Callable[[], Any] | None = field(default=None, compare=False)
    build: Callable[[BotContext, Any], Any] | None = field(default=None, compare=False)
    declared_from: Callable[[Any], Any] = field(default=_same, compare=False)
    jobs: Callable[[Any], list[Any]] | None = field(default=None, compare=False)

    @property
    def env_prefix(self) -> str:
        """The environment prefix of its settings section (``KEEPER_EXECUTOR_``)."""
        return self.settings.split(" ", 1)[0]

    @property
    def loops(self) -> bool:
        """Driven by :func:`keepers.runtime.base.run_loop` (it has an interval trigger)."""
        return any(t.interval_s is not None for t in self.triggers)


def declared_policy(calls: Iterable[Calls]) -> PolicyConfig:
    """One role per declared role name; two bots declaring the same role name share it (the
    union of their calls, the larger value cap)."""
    roles: dict[str, RolePolicy] = {}
    for c in calls:
        rp = c.role_policy()
        old = roles.get(c.role)
        if old is not None:
            rp = RolePolicy(
                allowed=old.allowed + [a for a in rp.allowed if a not in old.allowed],
                max_value_wei=max(old.max_value_wei, rp.max_value_wei),
            )
        roles[c.role] = rp
    return PolicyConfig(roles=roles)


def settings_from(cls: Any, environ: Mapping[str, str]) -> Any:
    """``cls`` (a pydantic-settings class) from ``environ``: the class's own loader when that is
    the process environment, else its prefixed variables of ``environ`` (lists and dicts as
    JSON, as pydantic-settings reads them). Raises pydantic's ValidationError (a ValueError)."""
    if environ is os.environ:
        return cls()
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    data: dict[str, Any] = {}
    for k, v in environ.items():
        if k.upper().startswith(prefix):
            name = k[len(prefix) :].lower()
            if name in cls.model_fields:
                data[name] = json.loads(v) if v[:1] in "[{" else v
    return cls.model_validate(data)


def check_allowed(calls: Calls, policy: PolicyConfig) -> None:
    """Raise ConfigError naming the role, function, selector and contract when ``policy`` (the
    one the pipeline audits with) does not let ``calls.role`` make one of the declared calls:
    a configured role of the same name replaces the declared one and may allow less."""
    from keepers.core.settings import ConfigError

    role = policy.roles.get(calls.role)
    for c in calls.calls:
        for sig in c.signatures:
            sel, target = selector(sig), c.contract.lower()
            if role is None or not any(
                a.contract == target and a.selector in ("*", sel) for a in role.allowed
            ):
                raise ConfigError(
                    f"invalid keeper configuration: policy.roles.{calls.role}: must allow "
                    f"{sig} ({sel}) on {target}"
                )


def load_when_set(cls: Any, variable: str) -> Callable[[Mapping[str, str]], Any]:
    """A declaration's ``load``: ``cls`` read from the environment when ``variable`` is set
    there (the bot is configured), else None (the bot is not run and declares no calls)."""

    def load(environ: Mapping[str, str]) -> Any:
        return settings_from(cls, environ) if environ.get(variable) else None

    return load
