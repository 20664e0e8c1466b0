"""Every local anvil the project starts keeps no old block state on disk: anvil writes each
state beyond its in-memory window as JSON under ~/.foundry/anvil/tmp and leaves it there when
it exits (about 3 GB per `make test` before)."""

from __future__ import annotations

from ape import chain

from ballast_dev.local.anvil_local import NO_DISK_STATE, no_disk_state, start_anvil, stop_anvil


def _has_no_disk_flag(argv: list[str]) -> bool:
    i = argv.index("--max-persisted-states")
    return argv[i + 1] == "0"


def test_ape_anvil__running_with_no_disk_state():
    """The anvil ape-foundry started for this test session (tests/conftest.py)."""
    argv = [str(a) for a in chain.provider.process.args]
    assert _has_no_disk_flag(argv), argv


def test_start_anvil__running_with_no_disk_state():
    proc, _url = start_anvil()
    try:
        assert _has_no_disk_flag([str(a) for a in proc.args])  # type: ignore[union-attr]
    finally:
        stop_anvil(proc)


def test_no_disk_state__caller_chose_the_history__left_as_given():
    assert no_disk_state(["--block-time", "1"]) == ["--block-time", "1", *NO_DISK_STATE]
    assert no_disk_state(["--prune-history", "50"]) == ["--prune-history", "50"]
    assert no_disk_state(["--max-persisted-states", "10"]) == ["--max-persisted-states", "10"]
