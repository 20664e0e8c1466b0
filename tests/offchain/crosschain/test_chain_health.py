"""ChainHealth (keepers.crosschain.chains), no chain needed: each chain's work in a thread of its
own under one budget; a chain that overruns or raises is marked down, the others' results come
back on time; a halt (signer conflict) or a refusal holds until a restart."""

from __future__ import annotations

import threading
import time

import requests

from keepers.crosschain.chains import ChainHealth, describe


def test_run__one_chain_overruns_its_budget__marked_down_in_budget_others_answer():
    release = threading.Event()
    seen = []
    health = ChainHealth(["a", "b", "c"], budget_s=0.5, on_change=lambda s, p: seen.append(s))
    t0 = time.monotonic()
    got = health.run(
        {
            "a": lambda: 1,
            "b": lambda: release.wait(10),  # a node that never answers
            "c": lambda: 3,
        }
    )
    took = time.monotonic() - t0
    release.set()
    assert got == {"a": 1, "c": 3}
    assert 0.5 <= took < 1.5, took
    assert health.status("b") == "down" and "no answer within 0.5s" in str(health.why_not("b"))
    assert health.why_not("a") is None and health.up() == ["a", "c"]
    assert {s.name: s.status for s in seen} == {"a": "up", "b": "down", "c": "up"}


def test_run__transport_error__names_the_url_without_credentials_or_path():
    health = ChainHealth(["a"], 1.0, urls={"a": "https://user:pw@node.example/v2/key123"})

    def refused():
        raise requests.exceptions.ConnectionError("HTTPSConnectionPool ... url: /v2/key123")

    health.run({"a": refused})
    why = str(health.why_not("a"))
    assert "rpc_url https://node.example unreachable (ConnectionError)" in why
    assert "key123" not in why and "pw" not in why


def test_halt_and_refusal__hold_against_later_answers_until_a_restart():
    health = ChainHealth(["a", "b"], 1.0)
    health.halt("a", "signer 0x.. is used by another sender")
    health.refuse("b", "route contracts do not match")
    health.run({"a": lambda: 1, "b": lambda: 2})
    assert health.status("a") == "halted" and health.status("b") == "refused"
    assert health.halted() == {"a": "signer 0x.. is used by another sender"}
    assert health.states["a"].last_ok is not None  # the node's answers still count


def test_describe__other_errors_their_type_and_first_line():
    assert describe(ValueError("bad\nmore")) == "ValueError: bad"
    assert describe(TimeoutError()) == "node unreachable (TimeoutError)"
