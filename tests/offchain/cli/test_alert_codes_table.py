"""ALERT_CODES is written grouped by bot and flattened: a code under two bots is refused at
import, not silently kept for the last bot only."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import keepers.runtime.alerts as alerts


def test_every_code_is_listed_under_one_bot_only():
    listed = [code for codes in alerts._BY_BOT.values() for code in codes]
    assert len(listed) == len(set(listed)) == len(alerts.ALERT_CODES)
    for bot, codes in alerts._BY_BOT.items():
        for code, meaning in codes.items():
            assert alerts.ALERT_CODES[code] == (bot, meaning)


def test_a_code_under_two_bots_is_refused_at_import():
    source = alerts.__file__
    text = Path(source).read_text()
    doubled = text.replace(
        '    "runtime": {\n',
        '    "runtime": {\n        "network": "listed again under another bot",\n',
        1,
    )
    assert doubled != text
    module = type(sys)("doubled_alerts")
    with pytest.raises(RuntimeError, match=r"two bots in _BY_BOT: \['network'\]"):
        exec(compile(doubled, source, "exec"), module.__dict__)
