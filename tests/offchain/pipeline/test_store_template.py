"""tests/support/store_template.py: a new SQLite store copied from a template migrated in the
test process holds what migrating it from nothing writes, and only a new file at the head is
copied (everything else migrates as the keeper does)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from keepers.store import db
from keepers.store import models as m
from keepers.store.db import HEAD_REVISION, Store, make_engine, stored_revision
from tests.support import store_template


def _items(sql: str | None) -> Any:
    """A CREATE statement with its top-level items (columns and constraints) as a sorted list:
    migrating from nothing writes a table's constraints in an order that differs from run to
    run (two migrations of new files in one process: ``UNIQUE (ref)`` before or after the
    ``FOREIGN KEY``), the same table either way."""
    if sql is None or "(" not in sql:
        return sql
    head, body = sql.split("(", 1)
    body = body.rsplit(")", 1)[0]
    items, depth, cur = [], 0, ""
    for ch in body:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            items.append(cur.strip())
            cur = ""
        else:
            cur += ch
    items.append(cur.strip())
    return head.strip(), sorted(items)


def _contents(path: Path) -> dict[str, Any]:
    """What a keeper can see of a store file: its schema objects, every table's rows, and the
    file-level settings (journal mode, page size, encoding, auto-vacuum, user version)."""
    conn = sqlite3.connect(path)
    try:
        schema = [
            (t, n, tbl, _items(sql))
            for t, n, tbl, sql in conn.execute(
                "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
            )
        ]
        tables = [n for t, n, _, _ in schema if t == "table" and not n.startswith("sqlite_")]
        rows = {t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables}
        pragmas = {
            p: conn.execute(f"PRAGMA {p}").fetchone()[0]
            for p in ("journal_mode", "page_size", "encoding", "auto_vacuum", "user_version")
        }
        return {"schema": schema, "rows": rows, "pragmas": pragmas}
    finally:
        conn.close()


@pytest.fixture
def real_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each call of the real ``migrate`` the plugin makes, by target."""
    calls: list[str] = []
    real = store_template.REAL_MIGRATE

    def counted(engine: Any, target: str = "head") -> None:
        calls.append(target)
        real(engine, target)

    monkeypatch.setattr(store_template, "REAL_MIGRATE", counted)
    return calls


def test_store_template__new_file__same_schema_rows_and_settings_as_migrated_from_nothing(
    tmp_path: Path,
) -> None:
    migrated = tmp_path / "migrated.db"
    engine = make_engine(f"sqlite:///{migrated}")
    store_template.REAL_MIGRATE(engine)
    engine.dispose()
    copied = tmp_path / "copied.db"
    engine = make_engine(f"sqlite:///{copied}")
    store_template.migrate_from_template(engine)
    assert stored_revision(engine) == HEAD_REVISION
    engine.dispose()
    want = _contents(migrated)
    assert len(want["schema"]) > 20 and want["rows"]["alembic_version"] == [(HEAD_REVISION,)]
    assert want["pragmas"]["journal_mode"] == "wal"
    assert _contents(copied) == want
    # the store works on the copy as on a migrated file: a write and a read back
    store = Store(f"sqlite:///{copied}")
    with store.transaction() as s:
        s.add(m.JobRun(job="j"))
    with store.sessions() as s:
        assert [r.job for r in s.query(m.JobRun).all()] == ["j"]
    store.close()


def test_store_template__only_a_new_file_at_the_head_is_copied__the_rest_migrates(
    tmp_path: Path, real_calls: list[str]
) -> None:
    store_template.template()  # this process's template, made at most once
    real_calls.clear()
    for i in range(3):  # new files at the head: copied, Alembic not run
        engine = make_engine(f"sqlite:///{tmp_path}/new{i}.db")
        store_template.migrate_from_template(engine)
        assert stored_revision(engine) == HEAD_REVISION
        engine.dispose()
    assert real_calls == []
    # an existing file behind the head: migrated by Alembic, its rows kept
    old = tmp_path / "old.db"
    engine = make_engine(f"sqlite:///{old}")
    store_template.REAL_MIGRATE(engine, "0006")
    real_calls.clear()
    store_template.migrate_from_template(engine)
    assert real_calls == ["head"] and stored_revision(engine) == HEAD_REVISION
    engine.dispose()
    # another target than the head, an in-memory store, a folder that does not exist
    engine = make_engine(f"sqlite:///{tmp_path}/to6.db")
    store_template.migrate_from_template(engine, "0006")
    assert stored_revision(engine) == "0006"
    engine.dispose()
    engine = make_engine("sqlite://")
    store_template.migrate_from_template(engine)
    engine.dispose()
    assert real_calls == ["head", "0006", "head"]
    with pytest.raises(Exception, match="unable to open database file"):
        store_template.migrate_from_template(make_engine(f"sqlite:///{tmp_path}/no/such.db"))
    # a URL with options (here a read-only open) is left to the driver, as the keeper's is
    engine = make_engine(f"sqlite:///{tmp_path}/ro.db?mode=ro&uri=true")
    with contextlib.suppress(Exception):
        store_template.migrate_from_template(engine)
    engine.dispose()
    assert real_calls == ["head", "0006", "head", "head", "head"]


@pytest.mark.skipif(
    os.environ.get("BALLAST_STORE_TEMPLATE") == "0", reason="the template is turned off"
)
def test_store_template__store_opens_new_files_through_it(
    tmp_path: Path, real_calls: list[str]
) -> None:
    assert db.migrate is store_template.migrate_from_template
    store_template.template()
    real_calls.clear()
    Store(f"sqlite:///{tmp_path}/a.db").close()
    assert real_calls == []
    Store(f"sqlite:///{tmp_path}/a.db").close()  # opened again: the real path (at the head)
    assert real_calls == ["head"]


def test_store_template__real_store_migrations__new_file_migrated_by_alembic(
    tmp_path: Path, real_store_migrations: None
) -> None:
    assert db.migrate is store_template.REAL_MIGRATE


def test_store_template__file_created_meanwhile__never_overwritten(tmp_path: Path) -> None:
    """A keeper process may create the same store between the check and the copy: the copy is
    linked into place only where no file is, so that store is kept, byte for byte, and the
    real ``migrate`` orders the two through SQLite's locks; no copy is left beside it."""
    theirs = tmp_path / "k.db"
    theirs.write_bytes(b"a store another process is writing")
    assert store_template._place_copy(theirs) is False
    assert theirs.read_bytes() == b"a store another process is writing"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.db"]
    ours = tmp_path / "new.db"
    assert store_template._place_copy(ours) is True
    assert ours.read_bytes() == store_template.template().read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.db", "new.db"]
