"""The key-in-a-setting check's shortcut is the plain check for every environment.

`refuse_secret_shaped` finds the environment's key-shaped values first and looks up no
setting's names when there are none (the loop over every setting and every variable took
3% of the test suite's samples, and runs at every command's start). Here the plain form (each
setting in turn over the whole environment, as it was written before) is the oracle: for
random environments of free-text, nested, secret and unrelated variables in any case, with
key-shaped, mnemonic-shaped and ordinary values, and random keyword overrides, both refuse
with the same message or both accept."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from keepers.core.errors import ConfigError
from keepers.core.secret_scrub import REDACTED, private_key_shaped
from keepers.core.settings import SECTIONS, env_names, secret_fields, section_class
from keepers.core.settings_tree import refuse_secret_shaped, refuse_secret_shaped_everywhere


def plain(cls: type[BaseModel], env: Mapping[str, str], overrides: Mapping[str, Any]) -> str | None:
    """What the check as first written refuses (the variable or keyword it names), or None:
    each setting in turn, each of its variables (or one nested under it) over the whole
    environment in order, then its keyword; the first key-shaped value found."""
    fields = [f for f in cls.model_fields if f not in secret_fields(cls)]
    hits: list[tuple[int, int, str]] = []
    for rank, f in enumerate(fields):
        for n in env_names(cls, f):
            for pos, (k, v) in enumerate(env.items()):
                named = k.upper() == n.upper() or k.upper().startswith(n.upper() + "__")
                if named and private_key_shaped(v):
                    hits.append((rank, pos, k.upper()))
        if f in overrides and private_key_shaped(overrides[f]):
            hits.append((rank, len(env), f.upper() if f in env else f))
    return min(hits)[2] if hits else None


def plain_everywhere(env: Mapping[str, str]) -> str | None:
    for name in SECTIONS:
        refused = plain(section_class(name), env, {})
        if refused is not None:
            return refused
    return None


def refusal(name: str | None) -> str | None:
    """The message the check gives when it refuses ``name``."""
    if name is None:
        return None
    return f"{name}={REDACTED}: this value is a private key (or a mnemonic), which no setting"


CLASSES = [section_class(s) for s in SECTIONS]
FIELD_NAMES = sorted({n for c in CLASSES for f in c.model_fields for n in env_names(c, f)[:2]})
KEY = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
MNEMONIC = " ".join(["abandon"] * 11 + ["about"])

names = st.one_of(
    st.sampled_from(FIELD_NAMES),
    st.sampled_from(FIELD_NAMES).map(str.lower),
    st.sampled_from(FIELD_NAMES).map(lambda n: n + "__ROLES"),
    st.sampled_from(["KEEPER_SIGNER_KEY", "PATH", "HOME", "KEEPER_", "X__Y"]),
)
values = st.one_of(
    st.sampled_from([KEY, "0x" + KEY, " 0x" + KEY + " ", KEY.upper(), MNEMONIC, KEY[:-1]]),
    st.sampled_from(["", "replica-1", "0x" + "11" * 20, "/tmp/x", "true", "[1, 2]"]),
)
override_values = st.one_of(
    values, st.builds(Path, values), st.integers(), st.none(), st.lists(values, max_size=2)
)


def outcome(fn: Any, *args: Any) -> str | None:
    try:
        fn(*args)
    except ConfigError as err:
        return str(err)
    return None


def agrees(message: str | None, name: str | None) -> bool:
    """The check's answer (its message, or None) is the plain check's (what it refuses)."""
    if name is None:
        return message is None
    return message is not None and message.startswith(refusal(name) or "")


@settings(max_examples=600, deadline=None)
@given(cls=st.sampled_from(CLASSES), data=st.data())
def test_refuse_secret_shaped__any_environment__as_the_plain_check(cls, data):
    # most variables and overrides are the class's own (two or more of them may then name
    # one setting: its variable, a nested one, a keyword), the rest anything
    own = sorted({n for f in cls.model_fields for n in env_names(cls, f)[:2]})
    own_names = st.sampled_from(own).flatmap(
        lambda n: st.sampled_from([n, n.lower(), n + "__ROLES", n.lower() + "__x"])
    )
    env = data.draw(st.dictionaries(st.one_of(own_names, names), values, max_size=8))
    overrides = data.draw(
        st.dictionaries(st.sampled_from(sorted(cls.model_fields)), override_values, max_size=3)
    )
    assert agrees(outcome(refuse_secret_shaped, cls, env, overrides), plain(cls, env, overrides))


@settings(max_examples=200, deadline=None)
@given(env=st.dictionaries(names, values, max_size=8))
def test_refuse_secret_shaped_everywhere__any_environment__as_the_plain_check(env):
    assert agrees(outcome(refuse_secret_shaped_everywhere, env), plain_everywhere(env))


def test_refuse_secret_shaped__the_cases_refuse_at_all():
    """The generators reach both answers (an oracle that always accepts would pass above)."""
    cls = section_class("core")
    assert outcome(refuse_secret_shaped, cls, {"KEEPER_REPLICA_ID": KEY}, {}) is not None
    assert outcome(refuse_secret_shaped, cls, {"KEEPER_REPLICA_ID": "r1"}, {}) is None
    assert outcome(refuse_secret_shaped_everywhere, {"keeper_replica_id": MNEMONIC}) is not None
