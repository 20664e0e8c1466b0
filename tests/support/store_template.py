"""pytest plugin (tests/conftest.py's ``pytest_plugins``): a new SQLite store is a copy of one
migrated in this process, not migrated again.

Every fund bot, pipeline and CLI run a test builds in its own process opens a new SQLite file,
and ``keepers.store.db.Store`` migrates it from nothing: all of Alembic's revisions, the batch
migrations re-creating tables with them (0006's checks). A whole run's profile put 40 CPU-s
there, 34 of them in the two xdist workers (about a tenth of ``test_fundbot_executor.py``'s).

Here ``keepers.store.db.migrate`` (what ``Store`` calls) is wrapped for the test process: the
first time it is asked to bring a SQLite file that does not exist yet to the head, the real
``migrate`` builds a template file of this process's own (a new file, the same call), whose
write-ahead log is then checkpointed into it; that call and every later one of its kind copy
the template's bytes to the new path instead (written beside it and hard-linked into place, so
a store another process creates at the same moment is never overwritten). Nothing else changes:
a file that exists (a store opened again, an older release's store, a store a test wrote
first), a target other than ``"head"`` (the migration tests name their revisions:
``migrate(engine, "0012")`` is Alembic's), an in-memory database, a URL with options
(``?mode=ro``), PostgreSQL, and every keeper process a test starts (they do not load pytest
plugins) take the real path. The copy holds what migrating that file from nothing would have
written (the same tables, indexes and rows, the same ``alembic_version``, the file's WAL
journal mode; a table's constraints may be listed in another order, as they are between two
migrations from nothing): tests/offchain/pipeline/test_store_template.py compares the two, and
a test that must see Alembic run on a new file (the store's own migration tests) asks for the
``real_store_migrations`` fixture.

``BALLAST_STORE_TEMPLATE=0`` turns it off (every new store migrated from nothing, as before).
"""

from __future__ import annotations

import atexit
import os
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from keepers.store import db

REAL_MIGRATE = db.migrate
_lock = threading.Lock()
_template: Path | None = None


def new_sqlite_file(engine: Engine) -> Path | None:
    """The path of ``engine``'s SQLite database when it is a file that does not exist yet (so
    no connection has opened it) in a folder that does, else None."""
    if engine.dialect.name != "sqlite" or engine.url.query:  # ?mode=ro, uri=true: as asked
        return None
    name = engine.url.database
    if not name or name == ":memory:" or name.startswith("file:") or "mode=memory" in name:
        return None
    path = Path(name)
    return path if path.parent.is_dir() and not path.exists() else None


def template() -> Path:
    """This process's template: a new file migrated to the head by the real ``migrate``, its
    write-ahead log checkpointed into it (the copy needs no ``-wal`` file)."""
    global _template
    with _lock:
        if _template is None:
            folder = Path(tempfile.mkdtemp(prefix="store-template-"))
            atexit.register(shutil.rmtree, folder, True)
            path = folder / "template.db"
            engine = db.make_engine(f"sqlite:///{path}")
            try:
                REAL_MIGRATE(engine)
            finally:
                engine.dispose()
            conn = sqlite3.connect(path)
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                conn.close()
            _template = path
        return _template


def migrate_from_template(engine: Engine, target: str = "head") -> None:
    """``keepers.store.db.migrate``, a new SQLite file at the head copied from the template."""
    path = new_sqlite_file(engine) if target == "head" else None
    if path is None or not _place_copy(path):
        REAL_MIGRATE(engine, target)


def _place_copy(path: Path) -> bool:
    """Puts a copy of the template at ``path`` unless a file is there by then (a keeper process
    may create the same store at the same moment: its file is never overwritten, and SQLite's
    own locking orders the two as before). The copy is written beside ``path`` and linked to
    it, which fails if ``path`` exists. False: nothing placed (use the real ``migrate``)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".template", dir=path.parent)
    os.close(fd)
    try:
        shutil.copyfile(template(), tmp)
        os.link(tmp, path)
    except OSError:  # FileExistsError: someone else's store; a file system without links
        return False
    finally:
        os.unlink(tmp)
    return True


def pytest_configure(config: Any) -> None:
    if os.environ.get("BALLAST_STORE_TEMPLATE") == "0":
        return
    db.migrate = migrate_from_template  # type: ignore[assignment]


@pytest.fixture
def real_store_migrations(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """For a test that must see Alembic migrate a new store from nothing: the real
    ``migrate`` for the test's length."""
    monkeypatch.setattr(db, "migrate", REAL_MIGRATE)
    yield
