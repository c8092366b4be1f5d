"""Stopping `make run`: SIGINT and SIGTERM stop the whole stack, in the foreground and the background.

Each test starts the real launcher (``python -m cli run``, or ``make run``) on the suite's
PostgreSQL and Redis (so no embedded server starts and the migrations are a no-op), with one
org unit in the database (so the demo city is not loaded) and HTTP ports of its own; waits until
it says it is running; signals it; and checks that it and every process it started are gone.

A background job of a script (``make run &`` in ``sh -c``) starts with SIGINT ignored: the
tests start theirs the same way (``preexec_fn`` setting ``SIG_IGN``), in a session of their own.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from cli.run import Launcher, redact_url

ROOT = Path(__file__).resolve().parents[2]
READY_LINE = "Press Ctrl-C to stop."
READY_TIMEOUT = 90.0  # two CPUs shared with other test runs: the four processes may take a while
STOP_TIMEOUT = 30.0
LAUNCHER = [sys.executable, "-m", "cli", "run"]
# -o: never remake the venv stamp from here, whatever the dates (a test must not run pip).
MAKE_RUN = ["make", "--no-print-directory", "-o", ".venv/.installed", "run", f"PY={sys.executable}"]

needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")


@pytest.fixture
async def organisation() -> None:
    """One city in the database: `load-demo --if-empty` then leaves it alone (fast, no demo data)."""
    from services.models import OrgUnit
    from shared.db import unit_of_work

    async with unit_of_work() as session:
        session.add(OrgUnit(code="9901", name="测试市", level="city", path="/9901/"))


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _ignore_sigint() -> None:
    """What a non-interactive shell does to the command of `cmd &`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@dataclass
class Run:
    """A launched process (the launcher, or make), its output and the processes it started."""

    process: subprocess.Popen[bytes]
    lines: list[str] = field(default_factory=list)
    descendants: list[psutil.Process] = field(default_factory=list)
    reader: threading.Thread | None = None

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def read(self) -> None:
        assert self.process.stdout is not None
        for raw in iter(self.process.stdout.readline, b""):
            self.lines.append(raw.decode("utf-8", errors="replace").rstrip("\n"))

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while not any(READY_LINE in line for line in self.lines):
            assert self.process.poll() is None, f"exited with {self.process.returncode} before ready:\n{self.output}"
            assert time.monotonic() < deadline, f"not ready after {READY_TIMEOUT:.0f}s:\n{self.output}"
            time.sleep(0.1)
        self.descendants = psutil.Process(self.process.pid).children(recursive=True)

    def launcher_pid(self) -> int:
        """The launcher's pid: the process itself, or make's child running `cli run`."""
        for candidate in [psutil.Process(self.process.pid), *self.descendants]:
            try:
                if candidate.cmdline()[1:4] == ["-m", "cli", "run"]:
                    return candidate.pid
            except psutil.Error:
                continue
        raise AssertionError(f"no launcher among {self.descendants}")

    def wait_stopped(self) -> int:
        try:
            code = self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {STOP_TIMEOUT:.0f}s after the signal:\n{self.output}") from None
        if self.reader is not None:
            self.reader.join(10.0)
        return code

    def assert_all_gone(self) -> None:
        # Everything the launcher started is its child (in a session of its own), so it is in the snapshot.
        assert {"intake_api", "scoring_service", "routing_worker", "long_worker"} <= {
            line.split("|", 1)[0].strip() for line in self.lines if "|" in line
        }, self.output
        assert len(self.descendants) >= 4, self.descendants
        _, alive = psutil.wait_procs(self.descendants, timeout=5.0)
        alive = [p for p in alive if _alive(p)]
        assert not alive, f"left running: {alive}\n{self.output}"
        assert "stopping intake_api, scoring_service, routing_worker, long_worker" in self.output
        assert "[minqing] error" not in self.output and "killing " not in self.output, self.output

    def kill_everything(self) -> None:
        """After a failed test: leave nothing running."""
        for proc in [*self.descendants]:
            if _alive(proc):
                with contextlib.suppress(psutil.Error):
                    proc.kill()
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10.0)


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@pytest.fixture
def launch(organisation: None) -> Iterator[Callable[..., Run]]:
    runs: list[Run] = []

    def start(command: list[str], *, ignore_sigint: bool) -> Run:
        intake_port, scoring_port = _free_ports(2)
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")
        }
        env.update({"INTAKE_PORT": str(intake_port), "SCORING_PORT": str(scoring_port), "PYTHONUNBUFFERED": "1"})
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group of its own, like a job of an interactive shell
            preexec_fn=_ignore_sigint if ignore_sigint else None,
        )
        run = Run(process)
        run.reader = threading.Thread(target=run.read, daemon=True)
        run.reader.start()
        runs.append(run)
        run.wait_ready()
        return run

    yield start
    for run in runs:
        run.kill_everything()


def test_the_launcher_handles_sigint_and_sigterm_even_when_started_with_sigint_ignored() -> None:
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # nohup
        launcher = Launcher(environ={})
        launcher._install_signal_handlers()
        assert signal.getsignal(signal.SIGINT) == launcher._on_signal
        assert signal.getsignal(signal.SIGTERM) == launcher._on_signal
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN, "nohup's ignored SIGHUP is kept"
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def test_a_second_signal_hurries_but_one_signal_after_another_stop_request_does_not() -> None:
    launcher = Launcher(environ={})
    launcher._stop_once("make (pid 1) received SIGTERM")
    launcher._on_signal(signal.SIGTERM, None)  # the SIGTERM make forwards
    assert launcher._stopping and not launcher._hurry
    launcher._on_signal(signal.SIGINT, None)
    assert launcher._hurry


def test_sigint_stops_a_background_launcher_started_with_sigint_ignored(launch: Callable[..., Run]) -> None:
    run = launch(LAUNCHER, ignore_sigint=True)
    os.kill(run.process.pid, signal.SIGINT)
    assert run.wait_stopped() == 0, run.output
    assert "SIGINT received, shutting down" in run.output
    run.assert_all_gone()


def test_sigterm_stops_a_background_launcher(launch: Callable[..., Run]) -> None:
    run = launch(LAUNCHER, ignore_sigint=True)
    os.kill(run.process.pid, signal.SIGTERM)
    assert run.wait_stopped() == 0, run.output
    assert "SIGTERM received, shutting down" in run.output
    run.assert_all_gone()


@needs_make
def test_sigterm_to_make_stops_a_background_make_run(launch: Callable[..., Run]) -> None:
    """`make run &` in a script, then `kill $!`: make forwards SIGTERM, then dies of it."""
    run = launch(MAKE_RUN, ignore_sigint=True)
    assert run.launcher_pid() in {p.pid for p in psutil.Process(run.process.pid).children()}, "no shell between"
    os.kill(run.process.pid, signal.SIGTERM)
    assert run.wait_stopped() == -signal.SIGTERM, run.output
    assert "SIGTERM received, shutting down" in run.output or "received SIGTERM, shutting down" in run.output
    run.assert_all_gone()


@needs_make
def test_sigint_to_make_alone_stops_make_run(launch: Callable[..., Run]) -> None:
    """`kill -INT <make pid>`: make does not forward it (it waits for its children); the launcher sees it."""
    run = launch(MAKE_RUN, ignore_sigint=False)
    os.kill(run.process.pid, signal.SIGINT)
    assert run.wait_stopped() == -signal.SIGINT, run.output
    assert f"make (pid {run.process.pid}) received SIGINT, shutting down" in run.output
    run.assert_all_gone()


@needs_make
def test_sigint_to_the_process_group_stops_a_background_make_run(launch: Callable[..., Run]) -> None:
    """Ctrl-C, or `kill -INT -- -<pgid>`: make ignores it (inherited), the launcher stops, make exits 0."""
    run = launch(MAKE_RUN, ignore_sigint=True)
    os.killpg(run.process.pid, signal.SIGINT)
    assert run.wait_stopped() == 0, run.output
    assert "SIGINT received, shutting down" in run.output
    run.assert_all_gone()


@needs_make
def test_the_launcher_stops_when_make_is_killed(launch: Callable[..., Run]) -> None:
    run = launch(MAKE_RUN, ignore_sigint=True)
    launcher = psutil.Process(run.launcher_pid())
    os.kill(run.process.pid, signal.SIGKILL)
    assert run.wait_stopped() == -signal.SIGKILL
    launcher.wait(timeout=STOP_TIMEOUT)  # no exit code: it is not our child
    assert run.reader is not None
    run.reader.join(10.0)
    assert f"make (pid {run.process.pid}) is gone, shutting down" in run.output
    run.assert_all_gone()


@pytest.mark.pure
def test_printed_urls_hide_every_password_a_sentinel_set_included() -> None:
    assert redact_url("postgresql+asyncpg://u:secret@db:5432/m") == "postgresql+asyncpg://u:***@db:5432/m"
    shown = redact_url("redis+sentinel://:pw@s1:26379,s2/minqing/0?sentinel_password=sp&sentinel_username=ops")
    assert "pw" not in shown and "sp" not in shown.replace("sentinel_username", "")
    assert shown == "redis+sentinel://:***@s1:26379,s2/minqing/0?sentinel_password=***&sentinel_username=ops"
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
