"""Engine, sessions, programmatic Alembic migrations and the SQLite single-process lock."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from keepers.core.errors import StoreError

MIGRATIONS = Path(__file__).with_name("migrations")


class StoreLockedError(StoreError, RuntimeError):
    """Another process already holds this SQLite store."""


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> Path | None:
    if not is_sqlite(url):
        return None
    path = url.split(":///", 1)[1] if ":///" in url else ""
    return Path(path) if path and path != ":memory:" else None


# the execution option that marks a read-only session's connection (Store.reads)
READ_ONLY = "ballast_read_only"
# what a Core read connection (Store.connection) refuses
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, synchronous=NORMAL and a busy timeout."""
    if is_sqlite(url):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy issue BEGIN itself so that each step is one real transaction.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # IMMEDIATE: take the write lock at BEGIN so read-then-write steps cannot interleave.
            # A read-only session (Store.reads) begins deferred: in WAL mode it reads the last
            # commit at once instead of waiting for a writer's transaction to end.
            if conn.get_execution_options().get(READ_ONLY):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


# The newest migration's revision (migrations/versions/): a store already there opens without
# Alembic, whose import and script loading cost every keeper start about 0.3 s.
# test_pipeline_config_store keeps it equal to Alembic's own head.
HEAD_REVISION = "0012"


def migrate(engine: Engine, target: str = "head") -> None:
    """Upgrade the schema to ``target`` (head). On PostgreSQL replicas serialise on an
    advisory lock."""
    if target == "head" and stored_revision(engine) == HEAD_REVISION:
        return
    from alembic import command

    _alembic(engine, lambda cfg: command.upgrade(cfg, target))


def stored_revision(engine: Engine) -> str | None:
    """The schema revision the database records (None: not created yet, or more than one)."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except DBAPIError:  # no alembic_version table yet
        return None
    return str(rows[0]) if len(rows) == 1 else None


def downgrade(engine: Engine, target: str) -> None:
    """Downgrade the schema to ``target`` (an operator's way back; the tests use it)."""
    from alembic import command

    _alembic(engine, lambda cfg: command.downgrade(cfg, target))


def _alembic(engine: Engine, run: Callable[[Any], None]) -> None:
    """Run an Alembic command on one connection, in one transaction.

    SQLite: batch migrations (0006) re-create tables that other tables' foreign keys point
    at, and dropping the old copy would fail those keys; ``PRAGMA foreign_keys`` cannot change
    inside a transaction, so it is turned off on the connection before the transaction and on
    again after, and ``PRAGMA foreign_key_check`` must find nothing before the commit."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        raw: Any = conn.connection.driver_connection if sqlite else None
        if sqlite:
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(727274)"))
                cfg.attributes["connection"] = conn
                run(cfg)
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise StoreError(f"migration left broken foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                raw.execute("PRAGMA foreign_keys=ON")


class SQLiteLock:
    """An exclusive lock file next to the SQLite DB; names the holder's pid on conflict."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + ".lock")
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")  # noqa: SIM115 - held for the life of the process
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise StoreLockedError(
                f"SQLite store {self.path.with_suffix('')} is in use by pid {holder} "
                f"(lock file {self.path}); SQLite mode runs one keeper process, "
                "use PostgreSQL (KEEPER_DB_URL=postgresql+psycopg://...) for replicas"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


class Store:
    """Engine + session factory. ``exclusive`` takes the SQLite lock (the worker does)."""

    def __init__(self, url: str, *, exclusive: bool = False, run_migrations: bool = True) -> None:
        self.url = url
        self.lock: SQLiteLock | None = None
        path = sqlite_path(url)
        if exclusive and path is not None:
            self.lock = SQLiteLock(path)
            self.lock.acquire()
        self.engine = make_engine(url)
        if run_migrations:
            migrate(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._reads = sessionmaker(
            self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False
        )
        event.listen(self._reads, "before_flush", _refuse_writes)
        # Core read connections (Store.connection): the refusal is listened for on these two
        # engines only, so the sessions' statements never pass through it
        self._core = self.engine.execution_options()
        self._core_view = self.engine.execution_options(**{READ_ONLY: True})
        for core in (self._core, self._core_view):
            event.listen(core, "before_cursor_execute", _refuse_core_writes)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def reads(self) -> Iterator[Session]:
        """A session for reads only. On SQLite it begins deferred, not ``IMMEDIATE``: it does
        not wait for a writer's open transaction (the pipeline holds one across its node calls)
        and reads the last commit. A flush (an ORM write) in it raises StoreError. For a read
        that decides a write, use ``transaction()``."""
        with self._reads() as session:
            yield session

    @contextmanager
    def connection(self, *, view: bool = False) -> Iterator[Connection]:
        """A Core connection for a hot read of a few columns by a prebuilt statement: no ORM
        session, whose set-up, statement compilation and row objects cost several times the
        query (docs/development/performance.md). It begins as ``sessions()`` does (on SQLite
        ``IMMEDIATE``: it waits for a writer's open transaction), or with ``view=True`` as
        ``reads()`` does (deferred: the last commit). A write through it raises StoreError
        (nothing is written): writes go through ``transaction()``."""
        with (self._core_view if view else self._core).connect() as conn:
            yield conn

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One DB transaction: commit on success, roll back on any exception."""
        with self.sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()
        if self.lock is not None:
            self.lock.release()


def _refuse_core_writes(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
    if statement.lstrip().upper().startswith(_WRITES):
        raise StoreError(
            "a write through a read connection (Store.connection): use Store.transaction"
        )


def _refuse_writes(session: Session, _context: Any, _instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        raise StoreError("a write in a read-only session (Store.reads): use Store.transaction")
