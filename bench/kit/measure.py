"""Figures: percentiles, number formatting, CPU per request (Linux /proc; None elsewhere)."""

from __future__ import annotations

import math
import os
from pathlib import Path


def fmt(value: float, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    return f"{value:.{digits}f}"


def percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _proc_cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _machine_cpu() -> tuple[int, int] | None:
    """(busy, total) jiffies over all CPUs."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU used by one process per request, and how busy the whole machine was meanwhile.

    The machine figure includes everything else running (other test suites, builds): when it is
    far above what this benchmark alone explains, the figures of the run are pessimistic.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.proc0 = _proc_cpu_seconds(pid)
        self.machine0 = _machine_cpu()
        self.load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
        self.proc_s: float | None = None
        self.machine_busy: float | None = None

    def stop(self) -> None:
        proc1, machine1 = _proc_cpu_seconds(self.pid), _machine_cpu()
        if self.proc0 is not None and proc1 is not None:
            self.proc_s = proc1 - self.proc0
        if self.machine0 is not None and machine1 is not None and machine1[1] > self.machine0[1]:
            self.machine_busy = (machine1[0] - self.machine0[0]) / (machine1[1] - self.machine0[1])

    def per_request_ms(self, requests: int) -> float:
        """The process's CPU milliseconds per request (NaN when unknown)."""
        if self.proc_s is None or not requests:
            return math.nan
        return 1000 * self.proc_s / requests

    def describe(self, requests: int) -> str:
        parts = []
        if self.proc_s is not None and requests:
            parts.append(f"server CPU {self.per_request_ms(requests):.2f} ms/request")
        if self.machine_busy is not None:
            parts.append(f"machine CPU busy {100 * self.machine_busy:.0f}% of {os.cpu_count()} cores")
        if not math.isnan(self.load0):
            parts.append(f"load average {self.load0:.1f} -> {os.getloadavg()[0]:.1f}")
        return "; ".join(parts)
