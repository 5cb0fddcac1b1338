"""A throw-away PostgreSQL cluster for the tests, the benchmarks and the demo.

Debian's ``postgresql`` package (``scripts/setup.sh``) brings ``initdb`` and ``pg_ctl``; the
cluster lives in a temp dir, listens on a free 127.0.0.1 port (no Unix socket in /run), and is
removed by ``stop()``. ``initdb`` refuses to run as root: as root the cluster runs as the
``postgres`` OS user (``runuser``), in a directory that user owns. No Docker, no system
cluster: the one Debian creates stays stopped.

    with Postgres.start() as pg:
        url = pg.create_database("t1")      # postgresql://mailer@127.0.0.1:PORT/t1
        pg.restart()                        # pg_ctl restart -m fast
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from sandbox.processes import free_port, wait_listening

USER = "mailer"  # the role the tests connect as (a superuser of the throw-away cluster)


def bin_dir() -> Path:
    """The newest installed PostgreSQL's programs (Debian: /usr/lib/postgresql/15/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): "
            "run scripts/setup.sh, which installs Debian's postgresql package"
        )
    return Path(found[-1]).parent


def _version(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


class Postgres:
    """One running cluster; ``url(db)`` for a database in it."""

    def __init__(self, root: Path, port: int, as_user: str | None) -> None:
        self.root = root
        self.data = root / "data"
        self.port = port
        self.as_user = as_user
        self.bin = bin_dir()

    @classmethod
    @contextlib.contextmanager
    def start(cls, port: int | None = None) -> Iterator[Postgres]:
        pg = cls.create(port)
        try:
            yield pg
        finally:
            pg.stop()

    @classmethod
    def create(cls, port: int | None = None) -> Postgres:
        root = Path(tempfile.mkdtemp(prefix="mailer-pg-"))
        as_user = "postgres" if os.geteuid() == 0 else None
        if as_user is not None:
            entry = pwd.getpwnam(as_user)
            os.chmod(root, 0o700)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        pg = cls(root, port or free_port(), as_user)
        try:
            pg._initdb()
            pg._ctl("start", "-w", "-t", "60", "-l", str(root / "server.log"))
            if wait_listening([pg.port], 30):
                raise RuntimeError(f"PostgreSQL does not listen on {pg.port}: {pg.log_tail()}")
        except BaseException:
            pg.stop()
            raise
        return pg

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", self.as_user, "--"] if self.as_user else []
        return subprocess.run(
            [*prefix, *argv], capture_output=True, text=True, check=False, cwd="/", timeout=120
        )

    def _initdb(self) -> None:
        done = self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, "--auth=trust",
            "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}")
        settings = (
            f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            "max_connections = 200\nshared_buffers = 64MB\n"
        )
        conf = self.data / "postgresql.conf"
        conf.write_text(conf.read_text() + "\n# mailer's throw-away cluster\n" + settings)

    def _ctl(self, *args: str) -> None:
        done = self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), *args)
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl {args[0]} failed: {done.stderr.strip()} {self.log_tail()}")

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every connection is cut, the data stays."""
        self._ctl("restart", "-m", "fast", "-w", "-t", "60", "-l", str(self.root / "server.log"))
        wait_listening([self.port], 30)

    def stop(self) -> None:
        """Stop the server (immediately) and remove everything it wrote."""
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join((self.root / "server.log").read_text().splitlines()[-lines:])
        except OSError:
            return ""

    def url(self, db: str = "postgres", user: str = USER) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{db}"

    def sql(self, statement: str, db: str = "postgres") -> str:
        """Run one statement with psql; its output (tuples only)."""
        done = subprocess.run(
            [str(self.bin / "psql"), "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-d", self.url(db),
             "-c", statement],
            capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"psql: {done.stderr.strip()}")
        return done.stdout.strip()

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        self.sql(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False
