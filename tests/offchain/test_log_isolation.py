"""tests/support/log_isolation.py: a test module leaves the process's logging as it found it, so
a worker's next module sees its keepers' warnings whichever file ran before it."""

from __future__ import annotations


def test_logging_as_found__a_module_configured_error__next_one_sees_its_warnings(capsys):
    """A module that configures logging (the demo's month leaves structlog at ERROR) leaves the
    process as it found it: the next module's keeper warnings reach its captured output."""
    from keepers.core.logging import configure_logging, get_logger
    from tests.support.log_isolation import logging_as_found

    log = get_logger("tests.log_isolation")
    with logging_as_found():
        configure_logging(True, "ERROR")
        log.warning("probe.inside")
    log.warning("probe.after")
    out = capsys.readouterr()
    text = out.out + out.err
    assert "probe.inside" not in text  # the module's own configuration held inside
    assert "probe.after" in text  # and is gone after it
