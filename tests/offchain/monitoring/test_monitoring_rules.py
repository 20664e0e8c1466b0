"""The shipped alert rules through Prometheus's own tool: `promtool check rules` (syntax and
PromQL) and `promtool test rules` (tests/offchain/monitoring/rules.test.yml: each alert fires
just past the seed's threshold and not at it). A rules file with a threshold moved must fail
those tests, so they can fail. Skips with a message where promtool is not installed (.ci/run
installs Debian's prometheus package)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "keepers/alerts/rebalance.rules.yml"
UNIT_TESTS = Path(__file__).with_name("rules.test.yml")
PROMTOOL = shutil.which("promtool")

needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool not found: install Debian's `prometheus` package (.ci/run does)",
)


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


@needs_promtool
def test_promtool_check_rules__shipped_rules__valid():
    r = promtool("check", "rules", RULES)
    assert r.returncode == 0, r.stdout + r.stderr
    n = sum(len(g["rules"]) for g in yaml.safe_load(RULES.read_text())["groups"])
    assert f"SUCCESS: {n} rules found" in r.stdout


@needs_promtool
def test_promtool_check_rules__broken_expression__refused(tmp_path):
    bad = tmp_path / "bad.rules.yml"
    bad.write_text(RULES.read_text().replace("> 0.07", "> > 0.07", 1))
    r = promtool("check", "rules", bad)
    assert r.returncode != 0 and "RebalanceDeviationWarning" in r.stdout + r.stderr


@needs_promtool
def test_promtool_test_rules__seed_thresholds__fire_above_not_at():
    r = promtool("test", "rules", UNIT_TESTS)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


@pytest.mark.parametrize(
    "old,new",
    [
        ("> 0.07", "> 0.06"),  # deviation warning below the seed's 7%
        ("> 0.10", ">= 0.10"),  # critical at exactly 10%
        ("< 0.90", "<= 0.90"),  # success rate at exactly 90%
        ("rebalance_pending_count > 5", "rebalance_pending_count > 6"),
        # the exit horizon: firing at equality, or comparing with the week's horizon
        ("rebalance_exit_horizon_need > on()", "rebalance_exit_horizon_need >= on()"),
        ('rebalance_exit_horizon{days="1"}', 'rebalance_exit_horizon{days="7"}'),
        ("keeper_rpc_up == 0", "keeper_rpc_up < 0"),  # outage never fires
        ("keeper_bot_unready == 1", "keeper_bot_unready > 1"),  # an unready bot never pages
        ("keeper_supervisor_stuck_tasks > 0", "keeper_supervisor_stuck_tasks > 1"),
        (
            "keeper_funder_runway_intervals < keeper_funder_runway_alert_intervals",
            "keeper_funder_runway_intervals <= keeper_funder_runway_alert_intervals",
        ),
        # the cross-chain keeper's: a chain down, a signer conflict, a move stuck or failed,
        # an attestation held, Iris's lockout
        ("crosschain_chain_up == 0 and", "crosschain_chain_up < 0 and"),
        ("crosschain_chain_halted == 1", "crosschain_chain_halted > 1"),
        (
            "crosschain_move_oldest_age_seconds > crosschain_move_stuck_after_seconds",
            "crosschain_move_oldest_age_seconds >= crosschain_move_stuck_after_seconds",
        ),
        (
            "increase(crosschain_moves_failed_total[1h]) > 0",
            "rate(crosschain_moves_failed_total[1h]) > 1",
        ),
        ("(crosschain_attestation_held_moves) > 0", "(crosschain_attestation_held_moves) > 1"),
        ("crosschain_iris_lockout_seconds > 0", "crosschain_iris_lockout_seconds > 300"),
        # private submission: three drops in an hour page, any public fallback pages
        (
            "increase(keeper_private_drops_total[1h])) >= 3",
            "increase(keeper_private_drops_total[1h])) > 3",
        ),
        (
            "increase(keeper_private_drops_total[1h])) >= 3",
            "increase(keeper_private_drops_total[1h])) >= 2",
        ),
        (
            "increase(keeper_private_fallback_total[15m])) > 0",
            "increase(keeper_private_fallback_total[15m])) > 1",
        ),
    ],
)
@needs_promtool
def test_promtool_test_rules__threshold_moved__unit_tests_fail(tmp_path, old, new):
    """Only the unit-test groups that assert on the moved alert are run on the mutated rules
    (each promtool evaluation of the whole file costs about a second; one group a tenth): the
    moved alert's own tests must catch it, which the whole file's failing would not show."""
    text = RULES.read_text()
    assert old in text
    mutated = text.replace(old, new, 1)
    (tmp_path / "rules.yml").write_text(mutated)
    moved = _alerts(mutated) - _alerts(text)
    assert moved, f"{old!r} -> {new!r} changed no alert's expression"
    names = {name for name, _ in moved}
    tests = yaml.safe_load(UNIT_TESTS.read_text())
    tests["rule_files"] = ["rules.yml"]
    tests["tests"] = [
        g for g in tests["tests"] if names & {t["alertname"] for t in g.get("alert_rule_test", [])}
    ]
    assert tests["tests"], f"no unit-test group asserts on {sorted(names)}"
    (tmp_path / "rules.test.yml").write_text(yaml.safe_dump(tests))
    r = promtool("test", "rules", tmp_path / "rules.test.yml")
    assert r.returncode != 0, r.stdout


def _alerts(text: str) -> set[tuple[str, str]]:
    """(alert name, expression) of every alerting rule in a rules file's text."""
    return {
        (rule["alert"], rule["expr"])
        for group in yaml.safe_load(text)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


def test_rules__every_alert_has_severity_and_summary():
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
            assert rule["annotations"]["summary"], rule["alert"]


def test_rules__crosschain_group__reads_only_metrics_the_crosschain_keeper_exports():
    """A renamed gauge must not leave a rule reading nothing (an alert that can never fire)."""
    import re

    from prometheus_client import Counter, Gauge

    from keepers.crosschain import metrics as xm

    (group,) = [g for g in yaml.safe_load(RULES.read_text())["groups"] if g["name"] == "crosschain"]
    declared = [*vars(xm).values(), *xm.POSITIONS.values()]  # the positions' by field
    exported = {m._name for m in declared if isinstance(m, Gauge | Counter)}
    read = {
        name.removesuffix("_total")
        for rule in group["rules"]
        for name in re.findall(r"crosschain_[a-z_]+", rule["expr"])
    }
    assert len(group["rules"]) == 6 and read <= exported, read - exported
