"""The Grafana dashboard imports through Grafana's UI as well as by provisioning: it declares
its datasource as an import input (``__inputs``: DS_PROMETHEUS, which the import screen asks
for) and every panel and query reads it through a ``datasource`` template variable, so no
panel is bound to a uid the target instance may not have. (No Grafana runs here: this checks
the document against the shape Grafana exports, ``__inputs``/``templating``.)"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
DASHBOARD = ROOT / "deploy/grafana/dashboards/ballast-keeper.json"
VAR = {"type": "prometheus", "uid": "${datasource}"}


def test_dashboard__datasource_is_an_import_input_read_through_a_variable() -> None:
    d = json.loads(DASHBOARD.read_text())
    (inp,) = d["__inputs"]
    assert (inp["name"], inp["type"], inp["pluginId"]) == (
        "DS_PROMETHEUS",
        "datasource",
        "prometheus",
    )
    (var,) = [v for v in d["templating"]["list"] if v["name"] == "datasource"]
    assert (var["type"], var["query"]) == ("datasource", "prometheus")
    assert var["current"]["value"] == "${DS_PROMETHEUS}"  # the import fills it in
    for panel in d["panels"]:
        assert panel["datasource"] == VAR, panel["title"]
        for target in panel["targets"]:
            assert target.get("datasource", VAR) == VAR, panel["title"]
    text = DASHBOARD.read_text()
    assert "ballast-prometheus" not in text  # no panel bound to the provisioned uid


def test_provisioned_datasource__a_prometheus_the_variable_can_pick() -> None:
    doc = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/ballast.yml").read_text())
    assert [ds["type"] for ds in doc["datasources"]] == ["prometheus"]


def test_dashboard__crosschain_row__every_query_reads_a_metric_the_keeper_exports() -> None:
    import re

    from prometheus_client import Counter, Gauge

    from keepers.crosschain import metrics as xm

    d = json.loads(DASHBOARD.read_text())
    row = next(
        p for p in d["panels"] if p["type"] == "row" and p["title"] == "Cross-chain inventory"
    )
    below = [p for p in d["panels"] if p["gridPos"]["y"] > row["gridPos"]["y"]]
    declared = [*vars(xm).values(), *xm.POSITIONS.values()]  # the positions' by field
    exported = {m._name for m in declared if isinstance(m, Gauge | Counter)}
    read = {
        name.removesuffix("_total")
        for p in below
        for t in p["targets"]
        for name in re.findall(r"crosschain_[a-z_]+", t["expr"])
    }
    assert read and read <= exported, read - exported
    assert {"crosschain_chain_up", "crosschain_balance", "crosschain_moves"} <= read


def test_dashboard__exit_horizon_panel__reads_the_gauges_the_keeper_exports() -> None:
    """Issue 67: the horizon per days and the next day's need, as keepers.runtime.metrics
    names them (a renamed gauge must not leave the panel reading nothing)."""
    from keepers.runtime import metrics

    d = json.loads(DASHBOARD.read_text())
    (panel,) = [p for p in d["panels"] if p["title"] == "Exit horizon and the next day's need"]
    exprs = [t["expr"] for t in panel["targets"]]
    assert exprs == [metrics.EXIT_HORIZON._name, metrics.EXIT_HORIZON_NEED._name]
