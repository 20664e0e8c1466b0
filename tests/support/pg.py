"""A throwaway PostgreSQL cluster on loopback for tests: ``python tests/offchain/pipeline/pg.py``
prints a URL and keeps the server up until Ctrl-C; the ``postgres`` fixture
(tests/offchain/pipeline/conftest.py) starts one per module and each test takes a fresh
database from it (:meth:`ThrowawayPostgres.fresh_database`).

Needs Debian's ``postgresql`` package (``apt-get install -y postgresql``): initdb and pg_ctl
are taken from /usr/lib/postgresql/*/bin. PostgreSQL refuses to run as root, so as root the
cluster is created and run as the ``postgres`` system user (created by the package) through
``runuser``.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from ballast_dev.local.anvil_local import free_port

_db_numbers = itertools.count()


class PostgresUnavailable(RuntimeError):
    pass


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise PostgresUnavailable(
        "PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin): "
        "apt-get update && apt-get install -y postgresql"
    )


class ThrowawayPostgres:
    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.port = free_port()
        self.user: str | None = None
        pw = None
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError as err:
                raise PostgresUnavailable("running as root and no 'postgres' user") from err
            self.user = "postgres"
        # As root the server runs as 'postgres', which must reach its data directory: not under
        # the temp dir `make` sets (~/.cache/ballast-tmp/..., inside root's private home: every
        # PostgreSQL test skipped with "Permission denied" under `make test` in CI), but in
        # /tmp, which every user can traverse.
        base = "/tmp" if pw is not None and os.path.isdir("/tmp") else None
        self.dir = Path(tempfile.mkdtemp(prefix="ballast-pg-", dir=base))
        if pw is not None:
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.role = self.user or pwd.getpwuid(os.geteuid()).pw_name
        self.url = f"postgresql+psycopg://{self.role}@127.0.0.1:{self.port}/postgres"

    def _run(self, *cmd: str) -> None:
        argv = [*cmd]
        if self.user:
            argv = ["runuser", "-u", self.user, "--", *argv]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise PostgresUnavailable(f"{' '.join(cmd[:2])} failed: {out.stderr[-1000:]}")

    def start(self) -> str:
        data = self.dir / "data"
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            self.role,
            "--no-sync",
            "-E",
            "UTF8",
        )
        opts = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            opts,
            "-l",
            str(self.dir / "log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self.url
            time.sleep(0.1)
        raise PostgresUnavailable("PostgreSQL did not accept connections")

    def fresh_database(self) -> str:
        """CREATE a new, empty database on this server; its URL."""
        name = f"keeper_{int(time.time() * 1000)}_{next(_db_numbers)}"
        admin = create_engine(self.url)
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text(f"CREATE DATABASE {name}"))
        admin.dispose()
        return self.url.rsplit("/", 1)[0] + "/" + name

    def stop(self) -> None:
        with contextlib.suppress(PostgresUnavailable):
            self._run(
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.dir / "data"),
                "-m",
                "immediate",
                "-w",
                "stop",
            )
        shutil.rmtree(self.dir, ignore_errors=True)


if __name__ == "__main__":
    pg = ThrowawayPostgres()
    print(pg.start(), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        pg.stop()
        sys.exit(0)
