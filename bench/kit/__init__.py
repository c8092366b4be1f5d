"""What the benchmarks in `bench/` share, in one namespace (`from bench import kit`).

* `platform`: PostgreSQL and Redis (the machine's or embedded), the app's set-up (migrate, demo
  city), its processes (`Server`, `Worker`), stopping them.
* `http`: a keep-alive HTTP/1.1 client with closed and open loops (figures only, or every answer
  kept), and wrk.
* `measure`: percentiles, CPU per request.
* `profiling`: py-spy.
* `data`: points in the grid map, request bodies, the category mix.
* `decisions`: routing decisions, jobs in progress and the grid map, as the database and Redis see them.
* `floor_app`: the floor of SPEC §10 (`bench/intake.py` serves it); not imported here.

Importing the kit has no side effects, and imports nothing beyond the standard library until a
function needs it.
"""

from bench.kit.data import CATEGORY_MIX, category_for, land_points, request_body, shuffled
from bench.kit.decisions import (
    Tally,
    decisions,
    grid_geometries,
    in_progress,
    queued_jobs,
    tally,
    wait_for_job_in_progress,
    wait_routed,
)
from bench.kit.http import (
    BodyFactory,
    Conn,
    LoadResult,
    LoopStats,
    Schedule,
    Sent,
    closed_loop,
    drain,
    intake_open_loop,
    open_loop,
    pooled_exchange,
    raw_request,
    run_async,
    run_wrk,
    tracked_open_loop,
    write_wrk_script,
    wrk_path,
    wrk_version,
)
from bench.kit.measure import CpuMeter, fmt, percentile
from bench.kit.platform import (
    HOST,
    PG_PORT,
    PYTHON,
    REDIS_PORT,
    ROOT,
    Server,
    Services,
    Worker,
    app_env,
    bench_run,
    bench_services,
    ensure_root_on_path,
    free_port,
    has_module,
    log,
    machine,
    migrate,
    recreate_database,
    set_up,
    stop_all,
    stop_on_sigterm,
    tcp_answers,
    uvicorn_args,
    uvicorn_speedups,
)
from bench.kit.profiling import py_spy_main_thread_report, py_spy_record, py_spy_report, py_spy_version, py_spy_wait

__all__ = [
    "CATEGORY_MIX",
    "HOST",
    "PG_PORT",
    "PYTHON",
    "REDIS_PORT",
    "ROOT",
    "BodyFactory",
    "Conn",
    "CpuMeter",
    "LoadResult",
    "LoopStats",
    "Schedule",
    "Sent",
    "Server",
    "Services",
    "Tally",
    "Worker",
    "app_env",
    "bench_run",
    "bench_services",
    "category_for",
    "closed_loop",
    "decisions",
    "drain",
    "ensure_root_on_path",
    "fmt",
    "free_port",
    "grid_geometries",
    "has_module",
    "in_progress",
    "intake_open_loop",
    "land_points",
    "log",
    "machine",
    "migrate",
    "open_loop",
    "percentile",
    "pooled_exchange",
    "py_spy_main_thread_report",
    "py_spy_record",
    "py_spy_report",
    "py_spy_version",
    "py_spy_wait",
    "queued_jobs",
    "raw_request",
    "recreate_database",
    "request_body",
    "run_async",
    "run_wrk",
    "set_up",
    "shuffled",
    "stop_all",
    "stop_on_sigterm",
    "tally",
    "tcp_answers",
    "tracked_open_loop",
    "uvicorn_args",
    "uvicorn_speedups",
    "wait_for_job_in_progress",
    "wait_routed",
    "write_wrk_script",
    "wrk_path",
    "wrk_version",
]
