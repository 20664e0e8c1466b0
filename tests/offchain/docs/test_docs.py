"""The documentation site: it builds with ``mkdocs build --strict`` (a broken link, a missing
page or a page left out of the nav fails), its generated reference pages are those the code
gives today, the runbook has an entry for every alert code and Prometheus rule (and none for
an alert that does not exist), every alert code raised in the source is listed, every shell
example of the operator guide is marked as run or not (and why), and the README stays short."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from keepers.runtime.alerts import ALERT_CODES, Alert, AlertLevel, UnlistedAlertCode
from scripts.docs import gen_reference
from tests.support.docs_examples import examples

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs"
RUNBOOK = DOCS / "runbook.md"
RULES = ROOT / "keepers" / "alerts" / "rebalance.rules.yml"
LEVELS = {lvl.value for lvl in AlertLevel} | {f"AlertLevel.{lvl.name}" for lvl in AlertLevel}


def runbook_entries() -> list[str]:
    return re.findall(r"^####\s+`([A-Za-z_]+)`\s*$", RUNBOOK.read_text(), re.M)


def rule_names() -> list[str]:
    data = yaml.safe_load(RULES.read_text())
    return [r["alert"] for g in data["groups"] for r in g["rules"]]


def test_site_builds_strict(tmp_path: Path) -> None:
    mkdocs = Path(sys.executable).with_name("mkdocs")
    r = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": str(mkdocs.parent) + ":/usr/bin:/bin"},
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "site" / "runbook" / "index.html").exists()


def test_site_build_fails_on_a_broken_link(tmp_path: Path) -> None:
    """The strict build is a check that can fail: a page with a link to a missing page."""
    import shutil

    copy = tmp_path / "repo"
    shutil.copytree(DOCS, copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    (copy / "scripts" / "docs").mkdir(parents=True)  # the hook that shows the version
    shutil.copy(ROOT / "scripts/docs/mkdocs_hooks.py", copy / "scripts/docs/mkdocs_hooks.py")
    (copy / "keepers" / "fund").mkdir(parents=True)
    shutil.copy(ROOT / "keepers/fund/FUND_KEEPER.md", copy / "keepers/fund/FUND_KEEPER.md")
    page = copy / "docs" / "runbook.md"
    page.write_text(page.read_text() + "\nSee [the missing page](nowhere.md).\n")
    mkdocs = Path(sys.executable).with_name("mkdocs")
    r = subprocess.run(
        [str(mkdocs), "build", "--strict"], cwd=copy, capture_output=True, text=True, timeout=300
    )
    assert r.returncode != 0 and "nowhere.md" in r.stdout + r.stderr


@pytest.mark.parametrize("name", sorted(gen_reference.PAGES))
def test_generated_reference_is_current(name: str) -> None:
    text = gen_reference.HEADER + gen_reference.PAGES[name]().rstrip() + "\n"
    page = DOCS / "reference" / name
    assert page.exists() and page.read_text() == text, (
        f"{page.relative_to(ROOT)} is stale: run `python -m scripts.docs.gen_reference`"
    )


def test_reference_lists_every_setting_and_command() -> None:
    from keepers.core.settings import SECTIONS, env_names, section_class

    settings = (DOCS / "reference" / "settings.md").read_text()
    for section in SECTIONS:
        cls = section_class(section)
        for field in cls.model_fields:
            assert f"`{env_names(cls, field)[0]}`" in settings, (section, field)
    cli = (DOCS / "reference" / "cli.md").read_text()
    for cmd in ("keeper approve", "keeper crosschain run", "keeper run", "keeper status"):
        assert f"## `{cmd}`" in cli


def test_runbook_has_an_entry_for_every_alert_code_and_rule() -> None:
    entries = runbook_entries()
    assert len(entries) == len(set(entries)), "an alert with two runbook entries"
    missing = (set(ALERT_CODES) | set(rule_names())) - set(entries)
    assert not missing, f"alerts without a runbook entry in docs/runbook.md: {sorted(missing)}"
    stale = set(entries) - set(ALERT_CODES) - set(rule_names())
    assert not stale, f"runbook entries for alerts nothing raises: {sorted(stale)}"


def test_every_runbook_entry_says_what_it_means_and_what_to_do() -> None:
    text = RUNBOOK.read_text()
    blocks = re.split(r"^####\s+", text, flags=re.M)[1:]
    for block in blocks:
        name = block.split("\n", 1)[0]
        assert "**Means**" in block and "**Do**" in block, name
        assert "**Severity**" in block, name


def _codes_in_source() -> set[str]:
    """String codes passed right after a level (AlertLevel.X or "critical"/"warning"/"info")
    in any call in keepers/: ``alert(AlertLevel.WARNING, "network", ...)``,
    ``RunwayAlert("critical", "funder_empty", ...)``, ``_alert(out, "warning", "...", ...)``."""
    found: set[str] = set()
    for path in (ROOT / "keepers").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            args = node.args
            for a, b in zip(args, args[1:], strict=False):
                level = (
                    a.value
                    if isinstance(a, ast.Constant) and isinstance(a.value, str)
                    else ast.unparse(a)
                )
                if level in LEVELS and isinstance(b, ast.Constant) and isinstance(b.value, str):
                    found.add(b.value)
    return found


def test_every_alert_code_in_the_source_is_listed() -> None:
    found = _codes_in_source()
    assert {"network", "funder_empty", "attestation_rejected", "job_failed"} <= found  # it reads
    unlisted = found - set(ALERT_CODES)
    assert not unlisted, f"alert codes raised but not in ALERT_CODES: {sorted(unlisted)}"


def _metric_modules_in_source() -> set[str]:
    """Every keepers module that constructs a prometheus_client metric (Gauge, Counter,
    Histogram, Summary, Info, Enum), by its source."""
    kinds = {"Gauge", "Counter", "Histogram", "Summary", "Info", "Enum"}
    out = set()
    for path in sorted((ROOT / "keepers").rglob("*.py")):
        tree = ast.parse(path.read_text())
        imported = {
            a.asname or a.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "prometheus_client"
            for a in node.names
            if a.name in kinds
        }
        if any(
            isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in imported
            for n in ast.walk(tree)
        ):
            out.add(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return out


def test_metrics_reference_imports_every_module_that_declares_a_metric() -> None:
    """The metrics page is generated from the metrics registered by importing
    ``METRIC_MODULES``; a module reached only through another's imports drops out of the page
    when that import turns lazy (the CLI's did), so each is named."""
    found = _metric_modules_in_source()
    assert {"keepers.runtime.metrics", "keepers.runtime.readiness"} <= found  # it reads
    missing = found - set(gen_reference.METRIC_MODULES)
    assert not missing, f"modules declaring metrics, not in METRIC_MODULES: {sorted(missing)}"


def test_an_unlisted_code_is_refused_in_strict_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BALLAST_STRICT_ALERTS", "1")
    with pytest.raises(UnlistedAlertCode, match="no_such_alert"):
        Alert(AlertLevel.WARNING, "no_such_alert", "x")
    monkeypatch.setenv("BALLAST_STRICT_ALERTS", "0")
    assert Alert(AlertLevel.WARNING, "no_such_alert", "x").code == "no_such_alert"  # logged


def test_every_shell_example_of_the_operator_guide_is_marked() -> None:
    shell = [e for e in examples() if e.lang in ("bash", "sh", "console", "shell")]
    unmarked = [f"{e.page}:{e.line}" for e in shell if e.mark is None]
    assert not unmarked, f"shell blocks without an example mark: {unmarked}"
    marked = [e for e in examples() if e.mark is not None]
    assert all(e.lang == "bash" for e in marked), "a marked example must be a bash block"
    assert sum(e.local for e in shell) >= 2


def test_readme_is_short_and_points_at_the_docs() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    assert re.search(r"^make demo$", readme, re.M) and re.search(r"^make test$", readme, re.M)
    for link in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (ROOT / link).exists(), link


def test_no_issue_numbers_in_the_readme_or_the_written_pages() -> None:
    pages = [ROOT / "README.md", *(p for p in DOCS.rglob("*.md") if "reference" not in p.parts)]
    for page in pages:
        hits = re.findall(r"\b[Ii]ssues? \d+\b", page.read_text())
        assert not hits, f"{page.relative_to(ROOT)}: {hits}"
