"""An empty fund pages nothing (issue 48): a freshly deployed fund, before its first deposit,
exported ``rebalance_deviation_ratio{tier="max"} 0.6`` (0 of 0 in every tier read as every
target missed) and would page RebalanceDeviationCritical. The exporter's own output for an
empty fund is fed to the shipped rules through promtool's rule unit tests; the same exporter on
a fund that holds cash only (truly off target) fires, so the test can fail."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY, generate_latest

from keepers.fund.planning.metrics import tier_metrics
from keepers.runtime import metrics
from tests.offchain.monitoring.test_monitoring_rules import RULES, needs_promtool, promtool
from tests.support.fundlib import make_state


def _exported_max_deviation(cash: int) -> float:
    metrics.observe_tiers(tier_metrics(make_state(cash, [])))
    for line in generate_latest(REGISTRY).decode().splitlines():
        if line.startswith('rebalance_deviation_ratio{tier="max"}'):
            return float(line.split()[-1])
    raise AssertionError("rebalance_deviation_ratio{tier=max} not exported")


def test_empty_fund__every_deviation_exported_as_zero():
    assert _exported_max_deviation(0) == 0.0
    text = generate_latest(REGISTRY).decode()
    for tier in ("L1", "L2", "L3"):
        assert f'rebalance_deviation_ratio{{tier="{tier}"}} 0.0' in text


def test_cash_only_fund__off_target__still_exported():
    assert _exported_max_deviation(100) == pytest.approx(0.9)


def _rules_test(tmp_path: Path, value: float, expect_critical: bool) -> str:
    series = 'rebalance_deviation_ratio{tier="max",instance="k"}'
    critical = (
        [{"exp_labels": {"severity": "critical", "tier": "max", "instance": "k"}}]
        if expect_critical
        else []
    )
    doc = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "15s",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": series, "values": f"{value}x20"}],
                "alert_rule_test": [
                    {
                        "eval_time": "15m",
                        "alertname": "RebalanceDeviationCritical",
                        "exp_alerts": critical,
                    },
                    *(
                        []
                        if expect_critical
                        else [
                            {"eval_time": "15m", "alertname": name, "exp_alerts": []}
                            for name in ("RebalanceDeviationWarning",)
                        ]
                    ),
                ],
            }
        ],
    }
    for case in doc["tests"][0]["alert_rule_test"]:
        for a in case["exp_alerts"]:
            a["exp_annotations"] = {"summary": "A tier is more than 10% off its target"}
    path = tmp_path / "empty.test.yml"
    path.write_text(yaml.safe_dump(doc))
    r = promtool("test", "rules", path)
    return r.stdout + r.stderr if r.returncode else "SUCCESS"


@needs_promtool
def test_promtool__empty_fund_as_exported__pages_nothing(tmp_path):
    assert _rules_test(tmp_path, _exported_max_deviation(0), expect_critical=False) == "SUCCESS"


@needs_promtool
def test_promtool__cash_only_fund_as_exported__pages_critical(tmp_path):
    value = _exported_max_deviation(100)
    assert _rules_test(tmp_path, value, expect_critical=True) == "SUCCESS"
    # and the empty-fund check is not vacuous: the same value with "nothing" expected fails
    assert _rules_test(tmp_path, value, expect_critical=False) != "SUCCESS"
