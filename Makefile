# Minqing: `make run` starts everything; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test lint format migrate demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## a .venv with the pinned dependencies

# One simple command, so that make forks the launcher itself (no shell in between): make then
# forwards a SIGTERM straight to it, and the launcher, seeing make as its parent, also stops when
# make alone gets SIGINT or SIGHUP (which make does not forward) or dies (cli/run.py, point 5).
run: $(STAMP) ## embedded PostgreSQL + Redis unless DATABASE_URL/REDIS_URL are set; migrate; demo; the four processes; SIGINT/SIGTERM stop it all
	$(PY) -m cli run

test: $(STAMP) ## the suite on 127.0.0.1 PostgreSQL/Redis (else embedded), then the `engines` tests on the embedded PostgreSQL 18 + Redis 6.2
	$(PY) -m pytest
	MINQING_TEST_ENGINES=embedded $(PY) -m pytest -m engines

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

migrate: $(STAMP) ## alembic upgrade head on DATABASE_URL
	$(PY) -m alembic upgrade head

demo: $(STAMP) ## load the demo city into an empty DATABASE_URL
	$(PY) -m cli load-demo

# Every module directly in bench/ is a benchmark, run as `python -m bench.<name>`; what they share is bench/kit/.
BENCHMARKS := $(patsubst bench/%.py,bench.%,$(filter-out bench/__init__.py,$(wildcard bench/*.py)))

bench: $(STAMP) ## every benchmark in bench/ (python -m bench.<name>; shared code in bench/kit/); each ends with one `key=value ...` line
	@set -e; for b in $(BENCHMARKS); do echo "== $$b"; $(PY) -m $$b; done

.PHONY: fuzz
fuzz: $(STAMP) ## a long schemathesis run over both apps, stateless and stateful (docs/fuzz.md); FUZZ_ARGS="--examples N"
	$(PY) -m bench.fuzz $(FUZZ_ARGS)

clean:
	rm -rf $(VENV) .data build *.egg-info
