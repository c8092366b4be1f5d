"""A long schemathesis run over both apps, stateless and stateful: every failure is a finding.

    .venv/bin/python -m bench.fuzz [--examples N] [--scenarios N] [--steps N] [--seed N]

1. A fresh database `minqing_fuzz` on 127.0.0.1:5432 (dropped and created) and Redis db 9 (flushed),
   or embedded servers when those do not answer; `alembic upgrade head`; the scoring tests' small
   fixture (`tests/fuzz.py: seed_scoring`: a city, catalog, responsibility matrix, teams, eleven
   requests, a finished run of 2026-10) and a city admin whose bearer token every call sends.
2. The intake API, then the scoring service (on the database the intake run left), each in its own
   uvicorn process (`tests/fuzz.py: uvicorn_server`), fuzzed through the OpenAPI document it serves.
3. Stateless: the suite's schemathesis test, run by `pytest.main` on this very file (so the examples,
   coverage and fuzzing phases run as in the suite), with `--examples` generated cases per operation
   (the suite has 15 and 8), every unexpected method probed, and stricter checks: the suite's
   `CHECKS` plus schemathesis' `negative_data_rejection` (a schema-violating call must be refused),
   `unsupported_method`, `allow_header_conformance`, `response_headers_conformance` and
   `missing_required_header`. A failing case is recorded and generation goes on (no shrinking).
4. Stateful: schemathesis' state machine over the OpenAPI links (the documented ones and those it
   infers), `--scenarios` scenarios of up to `--steps` calls, checked with the suite's `CHECKS` plus
   `use_after_free` and `ensure_resource_availability`.
Half the generated `POST /v1/requests` bodies get a catalog category, a point inside a grid and a
valid phone, so that creations succeed and their links are followed. Calls that would disable or
demote the admin the run is made as are not sent.

Prints per app the operations, cases, answers by status class, stateful calls and failures, then each
distinct failure (operation, checks, a curl to replay it). The last line is machine-readable:
`cases=N failures=N stateful_steps=N` (failures: failing calls, and operations or runs that could
not complete). The exit status is 1 when anything failed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import types
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis

from bench import kit

DATABASE = "minqing_fuzz"
REDIS_DB = 9
EXAMPLES = 150
SCENARIOS = 200
STEPS = 10
SEED = 20261126
MAX_STATEFUL_RESTARTS = 50
SHOWN_FAILURES = 20
PROFILE = "minqing-fuzz-bench"

# (label, app, call timeout in seconds)
APPS = [("intake", "intake_api.app:app", 10.0), ("scoring", "scoring_service.app:app", 30.0)]


@dataclass
class Finding:
    """One distinct failure: where, the checks it failed, how often, and the first report."""

    where: str
    titles: tuple[str, ...]
    count: int = 0
    report: str = ""


@dataclass
class AppRun:
    """What one app's fuzzing saw."""

    name: str
    url: str
    headers: dict[str, str]
    timeout: float
    http: Any
    operations: int = 0
    cases: int = 0
    skipped: int = 0
    failed_cases: int = 0
    errors: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    links: int = 0
    stateful_scenarios: int = 0
    stateful_restarts: int = 0
    stateful_steps: int = 0
    stateful_linked_steps: int = 0
    stateful_failed: int = 0
    findings: dict[tuple[str, tuple[str, ...]], Finding] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def failures(self) -> int:
        return self.failed_cases + self.stateful_failed + self.errors

    def record(self, where: str, titles: tuple[str, ...], report: str) -> None:
        finding = self.findings.setdefault((where, titles), Finding(where, titles, report=report))
        finding.count += 1

    def error(self, where: str, exc: BaseException) -> None:
        self.errors += 1
        self.record(where, (f"could not run: {type(exc).__name__}",), _report(exc))

    def check(self, case: Any, checks: list[Any]) -> None:
        """Send one stateless case and check the answer; a failure is recorded, not raised."""
        import requests
        from schemathesis.errors import FailureGroup

        from tests import fuzz

        if fuzz.targets_the_fuzzer(case):
            self.skipped += 1
            return
        self.cases += 1
        try:
            response = case.call_and_validate(
                base_url=self.url, session=self.http, headers=self.headers, checks=checks, timeout=self.timeout
            )
        except FailureGroup as exc:
            self.failed_cases += 1
            self.record(case.operation.label, _failure_titles(exc), _report(exc))
            return
        except requests.RequestException as exc:
            self.failed_cases += 1
            self.record(case.operation.label, (f"transport: {type(exc).__name__}",), f"{case.as_curl_command()}\n{exc}")
            return
        self.statuses[_status_class(response.status_code)] += 1


def _status_class(code: int) -> str:
    return f"{code // 100}xx"


def _failure_titles(exc: Any) -> tuple[str, ...]:
    return tuple(sorted({f"{type(f).__name__}: {getattr(f, 'title', str(f))}" for f in exc.exceptions}))


def _report(exc: BaseException) -> str:
    lines = str(getattr(exc, "message", "") or exc).strip().splitlines()
    return "\n".join(lines[:40])


# ---- stateless: collected by the `pytest.main` call in `fuzz_statelessly`, from this very file -------

schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_operation(case: Any, app_run: AppRun, stateless_checks: list[Any]) -> None:
    app_run.check(case, stateless_checks)


def fuzz_statelessly(run: AppRun, api_schema: Any) -> None:
    """The examples, coverage and fuzzing phases for every operation, through schemathesis' pytest plugin."""
    from schemathesis.specs.openapi import checks as openapi_checks

    from tests import fuzz

    stateless_checks = [
        *fuzz.CHECKS,
        openapi_checks.negative_data_rejection,
        openapi_checks.unsupported_method,
        openapi_checks.allow_header_conformance,
        openapi_checks.response_headers_conformance,
        openapi_checks.missing_required_header,
    ]

    @pytest.fixture(scope="session")
    def api_schema_fixture() -> Any:
        return api_schema

    @pytest.fixture(scope="session")
    def app_run() -> AppRun:
        return run

    @pytest.fixture(scope="session")
    def checks() -> list[Any]:
        return stateless_checks

    # A plugin module of its own: pytest registers a fixture under the name it is bound to there.
    fixtures = types.ModuleType("fuzz_bench_fixtures")
    vars(fixtures).update(
        api_schema=api_schema_fixture,
        app_run=app_run,
        stateless_checks=checks,
        schemathesis_pytest9_compat=fuzz.nodeid_compat_fixture(),
    )
    args = [f"{__file__}::test_operation", "-qq", "--no-header", "-p", "no:cacheprovider", "-W", "ignore"]
    status = pytest.main(args, plugins=[fixtures])
    if status != pytest.ExitCode.OK:
        run.error("stateless", RuntimeError(f"pytest exited with {status!r}: see the errors above"))


# ---- stateful --------------------------------------------------------------------------------------


def fuzz_statefully(run: AppRun, api_schema: Any, *, scenarios: int, steps: int, seed: int) -> None:
    """Scenarios of linked calls (schemathesis' state machine); failures recorded, not raised."""
    import hypothesis
    from hypothesis import HealthCheck, Phase, reject, settings
    from hypothesis.errors import Flaky
    from schemathesis.errors import FailureGroup
    from schemathesis.specs.openapi.checks import ensure_resource_availability, use_after_free

    from tests import fuzz

    checks = [*fuzz.CHECKS, use_after_free, ensure_resource_availability]
    base = api_schema.as_state_machine()
    # Links as the state machine sees them: the documented ones and those schemathesis inferred.
    run.links = api_schema.statistic.transitions.total

    class Workflow(base):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": run.url, "session": run.http, "headers": run.headers, "timeout": run.timeout}

        def step(self, input: Any) -> Any:
            if fuzz.targets_the_fuzzer(input.case):
                reject()
            run.stateful_steps += 1
            if input.transition is not None and input.is_applied:
                run.stateful_linked_steps += 1
            return super().step(input)

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
            run.statuses[_status_class(response.status_code)] += 1
            try:
                case.validate_response(
                    response, checks=checks, headers=run.headers, transport_kwargs=kwargs, recorder=self.recorder
                )
            except FailureGroup as exc:
                run.stateful_failed += 1
                run.record(f"stateful {case.operation.label}", _failure_titles(exc), _report(exc))

        def teardown(self) -> None:
            run.stateful_scenarios += 1
            super().teardown()

    # Scenarios depend on the server's state, so Hypothesis may find that replaying a prefix draws
    # differently (`Flaky`); as schemathesis' own runner does, start again for the remaining scenarios.
    for attempt in range(MAX_STATEFUL_RESTARTS + 1):
        remaining = scenarios - run.stateful_scenarios
        if remaining <= 0:
            return
        hypothesis.seed(seed + attempt)(Workflow)
        try:
            Workflow.run(
                settings=settings(
                    max_examples=remaining,
                    stateful_step_count=steps,
                    derandomize=False,
                    deadline=None,
                    database=None,
                    phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
            )
            return
        except Flaky:
            run.stateful_restarts += 1
        except AssertionError as exc:
            if not _inconsistent_replay(exc):
                raise
            run.stateful_restarts += 1


def _inconsistent_replay(exc: AssertionError) -> bool:
    """Hypothesis asserts (rather than raising `Flaky`) when a replay draws past a value an earlier run rejected."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and str(tb.tb_frame.f_globals.get("__name__", "")).startswith("hypothesis.")


# ---- one app ---------------------------------------------------------------------------------------


def _valid_request_variants(api_schema: Any) -> None:
    """Offer, for each generated `POST /v1/requests` case, a variant that can be created (201).

    The body is replaced on the case (not while it is drawn), so schemathesis re-judges whether the
    call is still schema-violating before `negative_data_rejection` sees it.
    """
    from hypothesis import strategies as st

    def creatable(case: Any) -> Any:
        case.body = {
            **case.body,
            "category": "env.noise",
            "location": {"lat": 29.805, "lon": 121.505},
            "citizen": {"name": "张三", "phone": "13800001234"},
            "media_urls": [],
            "attributes": {},
        }
        return case

    def flatmap_case(context: Any, case: Any) -> Any:
        if (
            context.operation is None
            or context.operation.label != "POST /v1/requests"
            or not isinstance(case.body, dict)
        ):
            return st.just(case)
        return st.booleans().map(lambda variant: creatable(case) if variant else case)

    api_schema.hook(flatmap_case)  # registered for this schema under its name


def fuzz_app(name: str, app: str, timeout: float, env: dict[str, str], headers: dict[str, str], args: Any) -> AppRun:
    import requests

    from tests import fuzz

    started = time.monotonic()
    log_path = Path(tempfile.mkdtemp(prefix=f"mq-fuzz-{name}-")) / "server.log"
    with fuzz.uvicorn_server(app, log_path, env) as url, requests.Session() as http:
        run = AppRun(name, url, headers, timeout, http)
        api_schema = schemathesis.openapi.from_url(
            f"{url}/openapi.json", config=fuzz.schemathesis_config(seed=args.seed)
        )
        _valid_request_variants(api_schema)
        # (not `len(api_schema)`: it memoizes counts, links included, before the stateful run infers links)
        run.operations = sum(1 for _ in api_schema.get_all_operations())
        t0 = time.monotonic()
        fuzz_statelessly(run, api_schema)
        kit.log(
            f"  stateless: {run.operations} operations, {run.cases} cases ({run.skipped} not sent), "
            f"{run.failed_cases} failed; {time.monotonic() - t0:.0f} s"
        )
        t0 = time.monotonic()
        try:
            fuzz_statefully(run, api_schema, scenarios=args.scenarios, steps=args.steps, seed=args.seed)
        except Exception as exc:  # noqa: BLE001 - reported as a failure of the stateful run
            run.error("stateful", exc)
        kit.log(
            f"  stateful over {run.links} links: {run.stateful_scenarios} scenarios ({run.stateful_restarts} "
            f"restarts), {run.stateful_steps} calls ({run.stateful_linked_steps} through a link), "
            f"{run.stateful_failed} failed; {time.monotonic() - t0:.0f} s"
        )
    run.seconds = time.monotonic() - started
    return run


async def _seed() -> dict[str, str]:
    from shared.db import dispose_engine, get_sessionmaker
    from tests import fuzz

    try:
        async with get_sessionmaker()() as session:
            return await fuzz.seed_scoring(session)
    finally:
        await dispose_engine()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=EXAMPLES, help=f"cases per operation (default {EXAMPLES})")
    parser.add_argument("--scenarios", type=int, default=SCENARIOS, help=f"stateful scenarios per app ({SCENARIOS})")
    parser.add_argument("--steps", type=int, default=STEPS, help=f"calls per stateful scenario at most ({STEPS})")
    parser.add_argument("--seed", type=int, default=SEED, help=f"generation seed (default {SEED})")
    args = parser.parse_args(argv)
    started = time.monotonic()
    runs: list[AppRun] = []
    with kit.stop_on_sigterm(), kit.bench_services(DATABASE, REDIS_DB) as services:
        kit.log(
            f"fuzzing on {services.describe}: {args.examples} cases per operation, "
            f"{args.scenarios} stateful scenarios of up to {args.steps} calls per app, seed {args.seed}"
        )
        # The settings must be in the environment before `tests.fuzz` is imported (modules read them on import);
        # the token outlives the run.
        env = kit.app_env(services, JWT_TTL_SECONDS="7200")
        os.environ.update(env)
        kit.ensure_root_on_path()
        from hypothesis import settings

        from tests import fuzz

        fuzz.hypothesis_profile(PROFILE, max_examples=args.examples)
        settings.load_profile(PROFILE)
        kit.migrate(env)
        headers = asyncio.run(_seed())
        for name, app, timeout in APPS:
            kit.log(f"== {name} ({app})")
            runs.append(fuzz_app(name, app, timeout, env, headers, args))
    kit.log("")
    for run in runs:
        statuses = " ".join(f"{k}={v}" for k, v in sorted(run.statuses.items()))
        kit.log(
            f"{run.name}: operations={run.operations} cases={run.cases} failures={run.failures} "
            f"stateful_steps={run.stateful_steps}; answers {statuses}; {run.seconds:.0f} s"
        )
    findings = sorted((f for run in runs for f in run.findings.values()), key=lambda f: -f.count)
    reports = [f"-- {f.where}: {', '.join(f.titles)} ({f.count}x)\n{f.report}" for f in findings]
    for report in reports[:SHOWN_FAILURES]:
        kit.log(f"\n{report}")
    if reports:
        path = Path(tempfile.mkdtemp(prefix="mq-fuzz-")) / "failures.txt"
        path.write_text("\n\n".join(reports) + "\n")
        kit.log(f"\n{len(reports)} distinct failures, all of them in {path}")
    cases = sum(r.cases for r in runs)
    failures = sum(r.failures for r in runs)
    steps = sum(r.stateful_steps for r in runs)
    kit.log(f"run took {time.monotonic() - started:.0f} s")
    print(f"cases={cases} failures={failures} stateful_steps={steps}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
