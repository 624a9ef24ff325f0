"""A real PostgreSQL server for the tests, started in a temporary directory.

Debian's postgresql package provides ``initdb`` and ``pg_ctl`` (on PATH or in
/usr/lib/postgresql/<version>/bin). The server listens on a free port on 127.0.0.1
(and on a unix socket in its directory), trusts local connections, and is stopped
when the session ends. Each test gets its own database (``new_database``).

PostgreSQL refuses to run as root: as root, the server runs as ``nobody`` through
``runuser``. Where that cannot work, ``unavailable()`` says why and the tests skip
with that reason.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

USER = "uplight"  # the server's superuser, created by initdb
_RUN_AS = "nobody"


def _binaries() -> tuple[str, str] | None:
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return initdb, pg_ctl
    for bindir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(f"{bindir}/initdb", os.X_OK) and os.access(f"{bindir}/pg_ctl", os.X_OK):
            return f"{bindir}/initdb", f"{bindir}/pg_ctl"
    return None


def unavailable() -> str | None:
    """Why no server can be started here, or None."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install 'uplight[postgres]')"
    if _binaries() is None:
        return "PostgreSQL's initdb and pg_ctl are not installed (apt-get install postgresql)"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing: initdb refuses root"
        try:
            pwd.getpwnam(_RUN_AS)
        except KeyError:
            return f"running as root and there is no user {_RUN_AS!r} to run PostgreSQL as"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    def __init__(self) -> None:
        binaries = _binaries()
        if binaries is None:
            raise RuntimeError(unavailable())
        self._initdb, self._pg_ctl = binaries
        self.dir = Path(tempfile.mkdtemp(prefix="uplight-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self._names = itertools.count(1)
        self._prefix: list[str] = []
        if os.geteuid() == 0:
            entry = pwd.getpwnam(_RUN_AS)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
            self._prefix = ["runuser", "-u", _RUN_AS, "--"]

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [*self._prefix, *args], capture_output=True, text=True, cwd=self.dir, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed:\n{done.stdout}\n{done.stderr}")

    def start(self) -> None:
        self._run(
            self._initdb,
            "-D",
            str(self.data),
            "-U",
            USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.dir}"
            # A test server: durability is not what is tested, speed is welcome.
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            self._pg_ctl,
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.dir / "server.log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        try:
            self._run(self._pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A new, empty database; its URL."""
        import psycopg

        name = f"test_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


def storage_toml(location: Path | str) -> str:
    """A config's ``[storage]`` section for a ``db_location`` (conftest.py): the file's
    path, or the database's URL."""
    key = "url" if isinstance(location, str) else "path"
    return f'\n[storage]\n{key} = "{location}"\n'
