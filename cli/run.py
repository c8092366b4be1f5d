"""`make run`: start Minqing and everything it needs, supervise it, stop it cleanly.

1. ``DATABASE_URL`` / ``REDIS_URL`` come from the environment; each one that is unset is
   replaced by an embedded server under ``.data/`` (``.data/postgres``, ``.data/redis``),
   with the database ``minqing`` created on first use.
2. ``alembic upgrade head`` and ``cli load-demo --if-empty`` run once with that environment;
   either failing stops the launch with a non-zero exit code.
3. The intake API, the scoring service, the routing worker and the long-job worker (see `cli.processes`) run as
   children with their output prefixed by their name; a child that dies is restarted after a
   growing back-off (1 s, 2 s, ... 30 s; back to 1 s once it has run for 30 s).
4. SIGINT (Ctrl-C), SIGTERM or SIGHUP: the children get SIGTERM, stragglers SIGKILL after 10 s
   (at once on a second signal), then the embedded Redis and PostgreSQL are shut down; exit 0.
   SIGINT and SIGTERM are handled even when inherited as ignored: a script's ``make run &`` (or
   ``python -m cli run &``) starts its job with SIGINT ignored, yet ``kill -INT`` must stop it.
   Only an ignored SIGHUP stays ignored, which is what ``nohup`` asks for.
5. Under GNU make (``make run``: make forks this process directly, the recipe being one simple
   command) the launcher also stops when make gets SIGINT, SIGTERM or SIGHUP on its own pid, or
   dies. make forwards only SIGTERM to its children; on SIGINT or SIGHUP it just waits for them,
   which would be forever. make's signal handler first resets its own disposition to the
   default, so the launcher polls make's caught-signal mask (``/proc/<make>/status``, Linux) and
   stops when one of those signals is no longer caught. A make that inherited SIGINT as ignored
   (``make run &`` in a script) never sees a ``kill -INT <make pid>``: nothing can react to that;
   send SIGTERM to make, or SIGINT to the launcher or to the process group.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from cli.embedded import EmbeddedPostgres, EmbeddedRedis, EmbeddedServerError, spawn
from cli.processes import (
    DOCS_PATH,
    HTTP_APPS,
    INTAKE_API,
    SCORING_SERVICE,
    SERVICE_ENV_VARS,
    WORKER_METRICS,
    WORKERS,
    http_ports,
    load_demo_command,
    migrate_command,
    process_commands,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
DATABASE_NAME = "minqing"
STOP_TIMEOUT = 10.0
BACKOFF_INITIAL = 1.0
BACKOFF_MAX = 30.0
HEALTHY_RUN = 30.0  # a child that ran this long is restarted with the initial back-off again
READY_TIMEOUT = 60.0
CREDENTIAL_PREFIXES = ("Admin login:", "API key:")
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
MAKE_NAMES = frozenset({"make", "gmake"})
PARENT_POLL = 0.1  # how often the launcher looks at a parent make (seconds)

DATABASE_URL, REDIS_URL = SERVICE_ENV_VARS


@dataclass
class _Child:
    name: str
    command: list[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restart_at: float = 0.0
    backoff: float = BACKOFF_INITIAL
    pump: threading.Thread | None = None
    restarts: int = 0


class Launcher:
    """Runs the whole stack in the foreground until a signal arrives. Use `run()` once."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        data_dir: Path = REPO_ROOT / ".data",
        repo_root: Path = REPO_ROOT,
        python: str = sys.executable,
        environ: Mapping[str, str] | None = None,
        out: IO[str] | None = None,
    ) -> None:
        self.host = host
        self.data_dir = data_dir
        self.repo_root = repo_root
        self.python = python
        self.environ = dict(os.environ if environ is None else environ)
        self.out = out if out is not None else sys.stdout
        self.postgres: EmbeddedPostgres | None = None
        self.redis: EmbeddedRedis | None = None
        self.children: list[_Child] = []
        self.credentials: list[str] = []
        self.metrics_ports: dict[str, int] = {}  # worker name -> its metrics port, for the banner
        # Plain flags, not threading.Event: they are set from signal handlers, which must not
        # take locks the interrupted main thread may hold (nor write to stdout).
        self._stopping = False
        self._hurry = False
        self._signals_received = 0
        self._stop_reason: str | None = None
        self._write_lock = threading.Lock()
        self._name_width = max(len(name) for name in (*HTTP_APPS, *WORKERS))

    # -- output ------------------------------------------------------------------------------

    def say(self, message: str) -> None:
        self._write(f"[minqing] {message}\n")

    def _write(self, text: str) -> None:
        with self._write_lock:
            try:
                self.out.write(text)
                self.out.flush()
            except (OSError, ValueError):  # closed or broken stdout: keep supervising
                pass

    def _pump(self, stream: IO[bytes], prefix: str, on_line: Callable[[str], None] | None = None) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            self._write(f"{prefix}{line}\n")
            if on_line is not None:
                on_line(line)
        stream.close()

    # -- signals -----------------------------------------------------------------------------

    def request_stop(self, reason: str = "stop requested") -> None:
        """Ask the launcher to shut everything down (what SIGINT/SIGTERM/SIGHUP do).

        A second request while stopping SIGKILLs the children at once.
        """
        if self._stopping:
            self._hurry = True
        else:
            self._stop_reason = reason
            self._stopping = True

    def _stop_once(self, reason: str) -> None:
        """Start stopping unless already stopping (never the hurry of a second request)."""
        if not self._stopping:
            self._stop_reason = reason
            self._stopping = True

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # The first signal only starts the stop, even if one is under way already: a parent make
        # that got SIGTERM is noticed by the make watch *and* forwards the SIGTERM to us, and a
        # Ctrl-C reaches make and us at once. A second signal SIGKILLs the children.
        self._signals_received += 1
        reason = f"{signal.Signals(signum).name} received"
        if self._signals_received == 1:
            self._stop_once(reason)
        else:
            self.request_stop(reason)

    def _pause(self, seconds: float) -> bool:
        """Sleep up to `seconds` (a signal cuts it short by at most 50 ms); True if stopping."""
        deadline = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < deadline:
            time.sleep(min(0.05, seconds))
        return self._stopping

    def _announce_stop(self) -> None:
        if self._stopping and self._stop_reason is not None:
            self._write(f"\n[minqing] {self._stop_reason}, shutting down\n")
            self._stop_reason = None

    def _install_signal_handlers(self) -> dict[signal.Signals, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous: dict[signal.Signals, Any] = {}
        for sig in _SIGNALS:
            # A non-interactive shell starts `cmd &` with SIGINT ignored: handle it all the same,
            # so that `kill -INT` stops a background launcher. An ignored SIGHUP is nohup's
            # deliberate request to survive the terminal's hang-up: keep that one.
            if sig == signal.SIGHUP and signal.getsignal(sig) == signal.SIG_IGN:
                continue
            previous[sig] = signal.signal(sig, self._on_signal)
        return previous

    def _watch_parent_make(self) -> None:
        """Under GNU make, stop when make is signalled or dies (see the module docstring, 5.)."""
        parent = os.getppid()
        if _process_name(parent) not in MAKE_NAMES:
            return
        caught = _caught_signals(parent)
        if caught is None:
            return
        # Only what make catches: a signal it ignores never reaches its handler, and a
        # disposition that is already the default cannot change to tell us anything.
        watched = [sig for sig in _SIGNALS if caught & _signal_bit(sig)]
        thread = threading.Thread(target=self._follow_make, args=(parent, watched), name="make-watch", daemon=True)
        thread.start()

    def _follow_make(self, make_pid: int, watched: list[signal.Signals]) -> None:
        while not self._stopping:
            time.sleep(PARENT_POLL)
            caught = _caught_signals(make_pid) if os.getppid() == make_pid else None
            if caught is None:
                self._stop_once(f"make (pid {make_pid}) is gone")
                return
            for sig in watched:
                if not caught & _signal_bit(sig):
                    self._stop_once(f"make (pid {make_pid}) received {sig.name}")
                    return

    # -- the whole run -----------------------------------------------------------------------

    def run(self) -> int:
        previous = self._install_signal_handlers()
        if previous:  # main thread: a real launch, not a test driving it from a thread
            self._watch_parent_make()
        try:
            return self._run()
        finally:
            try:
                self._stop_children()
                self._stop_embedded()
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    def _run(self) -> int:
        try:
            ports = http_ports(self.environ)
        except ValueError as exc:
            self.say(f"error: {exc}")
            return 2
        for name, port in ports.items():
            if not _port_free(self.host, port):
                variable = HTTP_APPS[name][1]
                self.say(
                    f"error: port {port} on {self.host} is already in use (needed by {name}); "
                    f"stop whatever holds it or set {variable}"
                )
                return 1

        env = self._backing_services_env()
        if env is None:
            return 0 if self._stopping else 1

        code = self._run_step("database migrations", migrate_command(self.python), env)
        if code is None:
            return 0
        if code != 0:
            self.say(f"error: database migrations failed (exit code {code}); not starting the services")
            return 1

        code = self._run_step("demo data", load_demo_command(self.python), env, capture_credentials=True)
        if code is None:
            return 0
        if code != 0:
            self.say(f"error: loading the demo data failed (exit code {code}); not starting the services")
            return 1

        # The console's scoring proxy (served by the intake API) calls the scoring service started here.
        env.setdefault("CONSOLE_SCORING_URL", f"http://127.0.0.1:{ports[SCORING_SERVICE]}")
        # The workers' metrics endpoints, on the apps' interface (0 in the environment turns one off).
        for name, (variable, default) in WORKER_METRICS.items():
            metrics_port = env.setdefault(variable, str(default)).strip()
            if metrics_port.isdigit() and int(metrics_port) > 0:
                self.metrics_ports[name] = int(metrics_port)
        env.setdefault("WORKER_METRICS_HOST", self.host)
        self._supervise(env, ports)
        return 0

    def _backing_services_env(self) -> dict[str, str] | None:
        """The environment for every step and child, with embedded servers where needed."""
        env = dict(self.environ)
        try:
            if env.get(DATABASE_URL):
                self.say(f"using PostgreSQL from {DATABASE_URL}")
            else:
                where = self.data_dir / "postgres"
                self.say(f"starting embedded PostgreSQL in {_relative(where)}")
                self.postgres = EmbeddedPostgres.start(where)
                self.postgres.create_database(DATABASE_NAME)
                env[DATABASE_URL] = self.postgres.url(DATABASE_NAME)
            if self._stopping:
                return None
            if env.get(REDIS_URL):
                self.say(f"using Redis from {REDIS_URL}")
            else:
                where = self.data_dir / "redis"
                self.say(f"starting embedded Redis in {_relative(where)}")
                self.redis = EmbeddedRedis.start(where, persist=True)
                env[REDIS_URL] = self.redis.url
        except (EmbeddedServerError, OSError) as exc:
            self.say(f"error: could not start an embedded server: {exc}")
            return None
        if self._stopping:
            return None
        self.say(f"{DATABASE_URL}={redact_url(env[DATABASE_URL])}")
        self.say(f"{REDIS_URL}={redact_url(env[REDIS_URL])}")
        return env

    def _run_step(
        self, title: str, command: list[str], env: Mapping[str, str], *, capture_credentials: bool = False
    ) -> int | None:
        """Run a one-shot step to completion: its exit code, or None if a stop was requested."""
        self.say(f"{title}: {' '.join(command[1:])}")
        process = spawn(
            command,
            death_signal=signal.SIGTERM,
            cwd=self.repo_root,
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture_credentials else None,
        )
        pump: threading.Thread | None = None
        if process.stdout is not None:
            pump = threading.Thread(
                target=self._pump, args=(process.stdout, "", self._remember_credentials), daemon=True
            )
            pump.start()
        while process.poll() is None:
            if self._pause(0.1):
                self._announce_stop()
                self._terminate_group(process, STOP_TIMEOUT)
                if pump is not None:
                    pump.join(2.0)
                return None
        if pump is not None:
            pump.join(5.0)
        return process.returncode

    def _remember_credentials(self, line: str) -> None:
        if line.startswith(CREDENTIAL_PREFIXES):
            self.credentials.append(line)

    # -- supervision -------------------------------------------------------------------------

    def _supervise(self, env: dict[str, str], ports: Mapping[str, int]) -> None:
        child_env = {**env, "PYTHONUNBUFFERED": "1"}
        commands = process_commands(self.python, self.host, env)
        self.children = [_Child(name=name, command=command) for name, command in commands.items()]
        for child in self.children:
            self._spawn(child, child_env)

        display_host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        waiting = dict(ports)
        ready_deadline = time.monotonic() + READY_TIMEOUT
        while not self._stopping:
            now = time.monotonic()
            for child in self.children:
                self._check_child(child, child_env, now)
            if self._check_embedded(env, child_env):
                commands = process_commands(self.python, self.host, env)
                for child in self.children:
                    child.command = commands[child.name]
            if waiting:
                waiting = {name: port for name, port in waiting.items() if not _answers(display_host, port)}
                if not waiting or now > ready_deadline:
                    self._banner(display_host, ports, not_ready=list(waiting))
                    waiting = {}
            self._pause(0.25)

    def _spawn(self, child: _Child, env: Mapping[str, str]) -> None:
        try:
            process = spawn(
                child.command,
                death_signal=signal.SIGTERM,
                cwd=self.repo_root,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        except OSError as exc:
            self.say(f"could not start {child.name}: {exc}")
            child.process = None
            child.restart_at = time.monotonic() + child.backoff
            child.backoff = min(child.backoff * 2, BACKOFF_MAX)
            return
        assert process.stdout is not None
        child.process = process
        child.started_at = time.monotonic()
        prefix = f"{child.name:<{self._name_width}} | "
        child.pump = threading.Thread(target=self._pump, args=(process.stdout, prefix), daemon=True)
        child.pump.start()

    def _check_child(self, child: _Child, env: Mapping[str, str], now: float) -> None:
        if child.process is not None:
            code = child.process.poll()
            if code is None:
                return
            if child.pump is not None:
                child.pump.join(1.0)
            if now - child.started_at >= HEALTHY_RUN:
                child.backoff = BACKOFF_INITIAL
            child.restart_at = now + child.backoff
            self.say(f"{child.name} exited unexpectedly (exit code {code}); restarting in {child.backoff:.0f}s")
            child.backoff = min(child.backoff * 2, BACKOFF_MAX)
            child.process = None
            return
        if now >= child.restart_at:
            child.restarts += 1
            self.say(f"restarting {child.name}")
            self._spawn(child, env)

    def _check_embedded(self, env: dict[str, str], child_env: dict[str, str]) -> bool:
        """Restart an embedded server that died; True if a URL changed (children restarted)."""
        changed = False
        if self.postgres is not None and not self.postgres.running:
            self.say("embedded PostgreSQL stopped unexpectedly; restarting it")
            self.postgres.stop()
            try:
                self.postgres = EmbeddedPostgres.start(self.postgres.data_dir)
            except EmbeddedServerError as exc:
                self.say(f"error: could not restart PostgreSQL: {exc}")
                self.request_stop("PostgreSQL is gone")
                return False
        if self.redis is not None and not self.redis.running:
            self.say("embedded Redis stopped unexpectedly; restarting it")
            self.redis.stop()
            try:
                self.redis = EmbeddedRedis.start(self.redis.data_dir, persist=True)
            except EmbeddedServerError as exc:
                self.say(f"error: could not restart Redis: {exc}")
                self.request_stop("Redis is gone")
                return False
            if self.redis.url != env[REDIS_URL]:
                env[REDIS_URL] = child_env[REDIS_URL] = self.redis.url
                changed = True
        if changed:
            self.say(f"{REDIS_URL} is now {env[REDIS_URL]}; restarting the services")
            for child in self.children:
                if child.process is not None:
                    self._terminate_group(child.process, STOP_TIMEOUT)
                    child.process = None
                child.restart_at = 0.0
        return changed

    def _banner(self, display_host: str, ports: Mapping[str, int], *, not_ready: list[str]) -> None:
        lines = ["", "Minqing is running:"]
        for name, port in ports.items():
            note = "  (not answering yet)" if name in not_ready else ""
            lines.append(f"  {name:<{self._name_width}}  http://{display_host}:{port}{DOCS_PATH}{note}")
        if INTAKE_API in ports:
            lines.append(f"  {'web console':<{self._name_width}}  http://{display_host}:{ports[INTAKE_API]}/console/")
        for name, port in self.metrics_ports.items():
            lines.append(f"  {name:<{self._name_width}}  http://{display_host}:{port}/metrics")
        lines.extend(f"  {credential}" for credential in self.credentials)
        lines.append("Press Ctrl-C to stop.")
        lines.append("")
        self._write("".join(f"[minqing] {line}\n" if line else "\n" for line in lines))

    # -- shutdown ----------------------------------------------------------------------------

    def _terminate_group(self, process: subprocess.Popen[bytes], timeout: float) -> None:
        _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while process.poll() is None and time.monotonic() < deadline and not self._hurry:
            time.sleep(0.05)
        if process.poll() is None:
            _signal_group(process, signal.SIGKILL)
            process.wait()

    def _stop_children(self) -> None:
        self._announce_stop()
        running = [c for c in self.children if c.process is not None and c.process.poll() is None]
        if running:
            self.say(f"stopping {', '.join(c.name for c in running)}")
        for child in running:
            assert child.process is not None
            _signal_group(child.process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in running:
            assert child.process is not None
            while child.process.poll() is None and time.monotonic() < deadline and not self._hurry:
                time.sleep(0.05)
            if child.process.poll() is None:
                why = "second stop request" if self._hurry else f"still running after {STOP_TIMEOUT:.0f}s"
                self.say(f"killing {child.name} ({why})")
                _signal_group(child.process, signal.SIGKILL)
                child.process.wait()
        for child in self.children:
            if child.pump is not None:
                child.pump.join(2.0)

    def _stop_embedded(self) -> None:
        if self.redis is not None:
            self.say("stopping embedded Redis")
            self.redis.stop()
        if self.postgres is not None:
            self.say("stopping embedded PostgreSQL")
            self.postgres.stop()


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Signal the child's process group (it leads one: start_new_session), else the child."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)


def _signal_bit(sig: signal.Signals) -> int:
    """The bit of `sig` in the signal masks of ``/proc/<pid>/status``."""
    return 1 << (int(sig) - 1)


def _caught_signals(pid: int) -> int | None:
    """The mask of signals `pid` has a handler for (``SigCgt``), or None if unreadable or gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("SigCgt:"):
                    return int(line.split(":", 1)[1].strip(), 16)
    except (OSError, ValueError):
        return None
    return None


def _process_name(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as comm:
            return comm.read().strip()
    except OSError:
        return None


def redact_url(url: str) -> str:
    """`url` with any password (before `@`, or a `…password=` parameter: a Sentinel set's) replaced by
    ``***``, for printing."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{password}@", ":***@", 1))
    if "password" in parts.query:
        hidden = [
            (k, "***" if k.endswith("password") else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ]
        parts = parts._replace(query=urlencode(hidden, safe="*"))
    return urlunsplit(parts)


def _port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv: list[str]) -> int:
    """Entry point of ``python -m cli run``; `argv` are the arguments after ``run``."""
    if argv[:1] == ["run"]:
        argv = argv[1:]
    parser = argparse.ArgumentParser(
        prog="python -m cli run",
        description="Run Minqing locally: embedded PostgreSQL/Redis unless DATABASE_URL/REDIS_URL are set.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface the HTTP apps bind (default 127.0.0.1)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=REPO_ROOT / ".data",
        help="where the embedded servers keep their data (default: .data/ in the repository)",
    )
    args = parser.parse_args(argv)
    return Launcher(host=args.host, data_dir=args.data_dir).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
