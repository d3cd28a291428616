"""Throw-away PostgreSQL and Redis servers that a test may stop and start at will.

Why private servers: the reliability suite stops the database under load ("PostgreSQL or Redis
stopped for a few seconds") to prove that webhooks then get a non-2xx answer, nothing is lost and
the assistant recovers by itself. Stopping the machine's shared servers would break whatever
else uses them; a private server on a free loopback port, in a temporary directory, is the real
thing (same binaries, real shutdown, real restart with its data) without that risk.

- :class:`PrivateRedis`: ``redis-server`` with an append-only file, so a restart keeps the data as
  a production Redis with persistence does (``appendfsync always``: nothing acknowledged is lost).
- :class:`PrivatePostgres`: ``initdb`` + ``pg_ctl`` from the installed PostgreSQL. PostgreSQL
  refuses to run as root; when the tests run as root the server runs as the ``postgres`` system
  user (``runuser``), in a directory owned by it.

Both raise :class:`ServiceUnavailable` when the binaries are missing, so a test can skip with a
clear message (and fail under ``CI=true``, where they must run).
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional

__all__ = ["ServiceUnavailable", "PrivateRedis", "PrivatePostgres"]


class ServiceUnavailable(RuntimeError):
    """A private server cannot be created or started here; the message says why."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, timeout: float, what: str, up: bool = True) -> None:
    """Until a TCP connect to the port succeeds (``up``) or is refused (not ``up``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                if up:
                    return
        except OSError:
            if not up:
                return
        time.sleep(0.05)
    raise ServiceUnavailable(f"{what} on port {port} did not go {'up' if up else 'down'} within {timeout:.0f} s")


class PrivateRedis:
    """A ``redis-server`` on a free port with its data in ``directory``.

    ``stop()`` shuts it down cleanly (its data stays in the append-only file), ``start()`` brings
    it back on the same port with that data, like a restart of a production server.
    """

    def __init__(self, directory: Path, port: Optional[int] = None) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise ServiceUnavailable("redis-server is not installed")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or _free_port()
        self.proc: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20.0) -> "PrivateRedis":
        log = (self.directory / "redis.log").open("ab")
        self.proc = subprocess.Popen(
            [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.directory),
             "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "yes"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        _wait_for_port(self.port, timeout, "redis-server")
        return self

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM: Redis flushes its append-only file and exits."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=timeout)
        self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def _postgres_bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if found:
        return Path(found[0]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise ServiceUnavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed")


class PrivatePostgres:
    """A PostgreSQL cluster of its own: trust authentication, loopback only, user ``postgres``.

    The data directory is created under the system temp directory (not under pytest's root-only
    temp tree), because the server user must be able to reach it.
    """

    def __init__(self, port: Optional[int] = None) -> None:
        self.bindir = _postgres_bindir()
        self.port = port or _free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="blaupause-pg-"))
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise ServiceUnavailable("running as root and there is no 'postgres' system user") from None
            os.chown(self.directory, user.pw_uid, user.pw_gid)
        self.data = self.directory / "data"
        self._initialised = False

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def log_path(self) -> Path:
        return self.directory / "postgres.log"

    def _run(self, *args: str, timeout: float = 60.0) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise ServiceUnavailable(f"{args[0]} failed ({result.returncode}): {result.stderr.strip()[-500:]}")

    def start(self, timeout: float = 60.0) -> "PrivatePostgres":
        if not self._initialised:
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
            self._initialised = True
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log_path), "-w",
                  "-t", str(int(timeout)), "start", timeout=timeout + 10)
        _wait_for_port(self.port, timeout, "PostgreSQL")
        return self

    def stop(self, timeout: float = 60.0) -> None:
        """``pg_ctl stop -m fast``: open connections are cut, as in a database restart."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", str(int(timeout)), "stop",
                  timeout=timeout + 10)
        _wait_for_port(self.port, timeout, "PostgreSQL", up=False)

    def destroy(self) -> None:
        """Stop if running and delete the cluster's files."""
        try:
            self.stop(timeout=30)
        except ServiceUnavailable:
            pass
        shutil.rmtree(self.directory, ignore_errors=True)
