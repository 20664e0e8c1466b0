"""One table of exit codes (issue 48: reference/cli.md said "1 refused, 2 bad configuration or
input", running.md "1 bad input or an unknown bot", stop-restart.md a third wording). The table
is keepers.core.errors.EXIT_TABLE; the CLI's exits follow it (each error class gives its row's
code), `keeper --help` ends with it, the pages that list exit codes show it as rendered, every
"exit N" of every page is one of its codes, and the systemd unit's no-restart codes are its
"no" rows."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

from click.testing import CliRunner

from keepers.cli import main
from keepers.core import errors
from keepers.core.errors import EXIT_TABLE, exit_code, exit_codes_markdown, exit_codes_text

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs"
PAGES_WITH_THE_TABLE = ("reference/cli.md", "operator/running.md", "operator/stop-restart.md")
CODES = {row[0] for row in EXIT_TABLE}


def test_table__codes_0_to_5_once_each():
    assert [row[0] for row in EXIT_TABLE] == [0, 1, 2, 3, 4, 5]


def test_every_error_class__exits_with_its_rows_code():
    for code, names, _, _ in EXIT_TABLE:
        for name in filter(None, names.split(", ")):
            cls = getattr(errors, name)
            assert exit_code(cls("x")) == code, name
    # the leaves exit as their branch
    from keepers.tx.errors import SignerConflict
    from keepers.tx.retry import NetworkUnavailable

    assert exit_code(SignerConflict.__new__(SignerConflict)) == errors.EXIT_HALTED
    assert exit_code(NetworkUnavailable("x")) == errors.EXIT_UNAVAILABLE
    from keepers.tx.worker import EXIT_NOT_IDLE

    assert EXIT_NOT_IDLE == 5 and 5 in CODES


def test_keeper_help__ends_with_the_table():
    out = CliRunner().invoke(main, ["--help"], terminal_width=200).output
    assert "Exit codes:" in out
    for line in exit_codes_text().splitlines():
        assert line in out, line


def test_cli_refusals__exit_as_the_table_says(tmp_path):
    runner = CliRunner(mix_stderr=False)
    # a command line click refuses: 2
    assert runner.invoke(main, ["status", "--no-such-option"]).exit_code == errors.EXIT_CONFIG
    # a bad setting: 2
    r = runner.invoke(main, ["status"], env={"KEEPER_DB_URL": "mysql://x"})
    assert r.exit_code == errors.EXIT_CONFIG and "KEEPER_DB_URL" in r.stderr


def test_pages_that_list_exit_codes__show_the_one_table():
    table = exit_codes_markdown()
    for page in PAGES_WITH_THE_TABLE:
        assert table in (DOCS / page).read_text(), f"{page}: not the table of EXIT_TABLE"


def test_every_exit_code_a_page_names__is_in_the_table():
    pattern = re.compile(r"\bexit(?:s|ed| code| status| with)? (\d+)\b")
    for page in sorted(DOCS.rglob("*.md")):
        for n in pattern.findall(page.read_text()):
            assert int(n) in CODES, f"{page.relative_to(ROOT)}: exit {n} is not in EXIT_TABLE"


def test_systemd_unit__does_not_restart_on_the_no_rows():
    units = sorted((ROOT / "deploy/systemd").glob("*.service"))
    assert [u.name for u in units] == ["ballast-crosschain.service", "ballast-keeper.service"]
    for unit in units:  # the fund keeper's and the cross-chain keeper's
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.read_string(unit.read_text())
        prevent = {int(x) for x in parser["Service"]["RestartPreventExitStatus"].split()}
        no = {code for code, _, _, restart in EXIT_TABLE if restart.startswith("no:")}
        assert prevent == no, unit.name
