"""py-spy: sample one process without pausing it, then print where its time went."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

from bench.kit.platform import PYTHON, ROOT, log

PROJECT_DIRS = ("routing_worker/", "services/", "shared/", "intake_api/")


def py_spy_exe() -> str | None:
    exe = shutil.which("py-spy") or str(Path(PYTHON).parent / "py-spy")
    return exe if Path(exe).exists() else None


def py_spy_version() -> str:
    exe = py_spy_exe()
    if exe is None:
        return "not installed"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False, timeout=10)
    return out.stdout.strip() or "unknown version"


def py_spy_record(
    pid: int, seconds: float, out: Path, rate: int = 100, *, threads: bool = False
) -> subprocess.Popen[bytes] | None:
    """Sample `pid` for `seconds` without pausing it; collapsed stacks (per thread with `threads`) go to `out`."""
    exe = py_spy_exe()
    if exe is None:
        log("py-spy is not installed in the venv (pip install py-spy): no profile")
        return None
    cmd = [exe, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))), "--rate", str(rate)]
    cmd += ["--threads"] if threads else []
    cmd += ["--format", "raw", "--output", str(out), "--nonblocking"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def py_spy_wait(proc: subprocess.Popen[bytes] | None, out: Path, timeout: float = 120) -> bool:
    """Wait for a py-spy run; whether it left its samples in `out` (else says why)."""
    if proc is None:
        return False
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    if proc.returncode != 0 or not out.exists():
        log(f"py-spy failed ({proc.returncode}): {err.decode(errors='replace')[-400:]}")
        return False
    return True


def _stacks(out: Path) -> list[tuple[list[str], int]]:
    """(frames, samples) of each line of a collapsed-stacks file."""
    found = []
    for line in out.read_text(errors="replace").splitlines():
        stack, _, n_text = line.rpartition(" ")
        if stack and n_text.isdigit():
            found.append((stack.split(";"), int(n_text)))
    return found


def py_spy_report(proc: subprocess.Popen[bytes] | None, out: Path, top: int = 30, label: str = "") -> None:
    """Wait for a py-spy run and print the functions holding the most samples (own and total)."""
    if not py_spy_wait(proc, out):
        return
    total_counts: Counter[str] = Counter()
    own_counts: Counter[str] = Counter()
    samples = 0
    for stack, n in _stacks(out):
        frames = [_short(f) for f in stack]
        samples += n
        for frame in set(frames):
            total_counts[frame] += n
        own_counts[frames[-1]] += n
    if not samples:
        log("py-spy: no samples")
        return
    project = [(f, n) for f, n in total_counts.most_common() if f.split(" (", 1)[-1].startswith(PROJECT_DIRS)]
    log(f"py-spy {label}: {samples} samples while the process was not idle (SQLAlchemy's greenlets show as")
    log("  separate stacks, so the project's own frames are the readable breakdown)")
    log("  project code, total (the function and everything it calls), % of samples:")
    for frame, n in project[:top]:
        log(f"    {100 * n / samples:5.1f}%  {frame}")
    log("  own time (the function's own code), % of samples:")
    for frame, n in own_counts.most_common(top // 2):
        log(f"    {100 * n / samples:5.1f}%  {frame}")


def py_spy_main_thread_report(out: Path, project_dirs: tuple[str, ...], top: int = 20) -> None:
    """Collapsed stacks (`--threads`) of the event-loop thread -> project functions (inclusive) and
    self time by package."""
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for frames, n in _stacks(out):
        if "MainThread" not in frames[0]:  # the event loop; idle pool threads would dilute the figures
            continue
        python_frames = [f for f in frames if ".py:" in f]
        if not python_frames:
            continue
        total += n
        for frame in {f.rsplit(":", 1)[0] + ")" for f in python_frames if any(d in f for d in project_dirs)}:
            inclusive[frame] += n
        deepest = python_frames[-1]
        where = deepest[deepest.find("(") + 1 :]
        packages[where.split("/")[0].split(".py")[0]] += n
        own[_short(deepest.rsplit(":", 1)[0] + ")")] += n
    if not total:
        log("py-spy: no samples")
        return
    log(f"py-spy: {total} samples (wall clock, busy threads); project functions, inclusive:")
    for frame, n in inclusive.most_common(top):
        log(f"  {100 * n / total:5.1f}%  {frame}")
    log("py-spy: self time by package of the innermost Python frame:")
    for package, n in packages.most_common(12):
        log(f"  {100 * n / total:5.1f}%  {package}")
    log("py-spy: self time by function of the innermost Python frame:")
    for frame, n in own.most_common(top):
        log(f"  {100 * n / total:5.1f}%  {frame}")


def _short(frame: str) -> str:
    """`fn (/long/path/site-packages/pkg/mod.py:12)` -> `fn (pkg/mod.py:12)`."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", str(ROOT) + "/", "lib/python3"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{name} ({where})"
