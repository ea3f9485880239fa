"""A throwaway PostgreSQL server for tests (Debian's ``postgresql`` package): ``initdb``
into a temporary folder, ``postgres`` on a free loopback port, trust authentication for the
role ``ragkit``, durability off (``fsync=off``: a test server). Run as the ``postgres``
system user when the tests run as root (PostgreSQL refuses root). Skips, naming what is
missing, without the server binaries or psycopg (``scripts/bootstrap dev`` installs both).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(Path(p).parts[4]) if Path(p).parts[4].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    which = shutil.which("postgres")
    return Path(which).parent if which else None


class PgServer:
    """A running server; :meth:`database` makes a fresh, empty database and returns its URL."""

    def __init__(self, port: int, folder: Path) -> None:
        self.port, self.folder = port, folder
        self._names = itertools.count()

    def url(self, name: str) -> str:
        return f"postgresql://ragkit@127.0.0.1:{self.port}/{name}"

    def database(self) -> str:
        import psycopg

        name = f"kb_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextmanager
def pg_server() -> Iterator[PgServer]:
    """Start a server for the block; skip when it cannot be had here."""
    try:
        import psycopg
    except ImportError:
        pytest.skip("psycopg is not installed (the postgres extra: pip install "
                    "'psycopg[binary]>=3.1', or scripts/bootstrap dev)")
    bindir = _bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (Debian package 'postgresql'; "
                    "scripts/bootstrap dev installs it)")
    as_user: list[str] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and no 'postgres' user to run the server as "
                        "(Debian package 'postgresql' makes it)")
        as_user = ["setpriv", f"--reuid={owner.pw_uid}", f"--regid={owner.pw_gid}",
                   "--init-groups"]
    folder = Path(tempfile.mkdtemp(prefix="ragkit-pg-"))  # not under pytest's 0700 tmp
    if owner is not None:
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    port = free_port()
    log = folder / "server.log"
    try:
        subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(folder / "data"), "-A",
                        "trust", "-U", "ragkit", "--no-sync", "-E", "UTF8", "--no-locale"],
                       check=True, capture_output=True, timeout=120)
        with log.open("w") as out:
            proc = subprocess.Popen(
                [*as_user, str(bindir / "postgres"), "-D", str(folder / "data"), "-p",
                 str(port), "-c", "listen_addresses=127.0.0.1", "-c",
                 f"unix_socket_directories={folder}", "-c", "fsync=off", "-c",
                 "synchronous_commit=off", "-c", "full_page_writes=off"],
                stdout=out, stderr=out)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    psycopg.connect(f"postgresql://ragkit@127.0.0.1:{port}/postgres",
                                    connect_timeout=2).close()
                    break
                except psycopg.OperationalError:
                    assert proc.poll() is None, log.read_text()
                    if time.monotonic() > deadline:
                        pytest.fail(f"postgres did not start in 60 s: {log.read_text()}")
                    time.sleep(0.2)
            yield PgServer(port, folder)
        finally:
            proc.send_signal(signal.SIGINT)  # fast shutdown: ends the sessions still open
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
