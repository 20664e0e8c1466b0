"""The migrations are released (stores of 0.1.0 and 0.2.0 migrate through them), so a change to
their code must leave every schema they make exactly as it was. The schemas below were recorded
from the migrations as 0.2.0 released them (fixtures/schema_0012.json): a fresh store at each
revision on the way up and on the way back down, and the 0.1.0 and 0.2.0 fixture stores
upgraded to 0012 (SQLite's own `CREATE` statements, so a column's type, nullability, default,
order, a constraint or an index that differs fails the comparison).

The record stops at 0012: a later migration adds its own schema without touching it.
Regenerate it only with the migrations of a release: BALLAST_WRITE_SCHEMA=1 pytest this file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from keepers.store.db import downgrade, make_engine, migrate

FIXTURES = Path(__file__).parent / "fixtures"
RECORD = FIXTURES / "schema_0012.json"
REVISIONS = [f"{n:04d}" for n in range(1, 13)]


CONSTRAINT = re.compile(r"\s*(CONSTRAINT|UNIQUE|FOREIGN KEY|CHECK|PRIMARY KEY)\b")


def _table_sql(sql: str) -> str:
    """A table's CREATE statement with its columns in order and its table constraints sorted:
    Alembic's batch mode (SQLite's move and copy) writes the constraints it reflects in no
    fixed order, which is no difference in the schema."""
    head, sep, body = sql.partition("(")
    if not sep or not body.endswith(")"):
        return sql
    items = [i.strip() for i in body[:-1].split(", \n")]
    columns = [i for i in items if not CONSTRAINT.match(i)]
    constraints = sorted(i for i in items if CONSTRAINT.match(i))
    return head + "(" + ", ".join(columns + constraints) + ")"


def _schema(db: Path) -> list[list[str]]:
    with contextlib.closing(sqlite3.connect(db)) as c:
        rows = c.execute(
            "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master "
            "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
        ).fetchall()
    return [[t, n, tbl, _table_sql(sql) if t == "table" else sql] for t, n, tbl, sql in rows]


def _schemas(tmp: Path) -> dict[str, list[list[str]]]:
    out: dict[str, list[list[str]]] = {}
    db = tmp / "fresh.db"
    engine = make_engine(f"sqlite:///{db}")
    for rev in REVISIONS:
        migrate(engine, rev)
        out[f"up {rev}"] = _schema(db)
    for rev in reversed(["base", *REVISIONS[:-1]]):
        downgrade(engine, rev)
        out[f"down {rev}"] = _schema(db)
    engine.dispose()
    for release in ("0.1.0", "0.2.0"):
        copy = tmp / f"{release}.db"
        shutil.copy(FIXTURES / release / "keeper.db", copy)
        engine = make_engine(f"sqlite:///{copy}")
        migrate(engine, "0012")
        engine.dispose()
        out[f"{release} store up 0012"] = _schema(copy)
    return out


def test_migrations__every_revision_up_down_and_released_stores__schema_as_released(tmp_path):
    got = _schemas(tmp_path)
    if os.environ.get("BALLAST_WRITE_SCHEMA") == "1":
        # each distinct schema once, and the steps that end at it
        distinct: list[list[list[str]]] = []
        for schema in got.values():
            if schema not in distinct:
                distinct.append(schema)
        steps = {step: distinct.index(schema) for step, schema in got.items()}
        RECORD.write_text(json.dumps({"steps": steps, "schemas": distinct}, indent=1) + "\n")
        pytest.skip(f"recorded {RECORD.name}")
    recorded = json.loads(RECORD.read_text())
    assert list(got) == list(recorded["steps"])
    for step, index in recorded["steps"].items():
        assert got[step] == recorded["schemas"][index], step
