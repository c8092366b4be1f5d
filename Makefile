# Minqing: `make run` starts everything; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The console's pinned front-end files (console/package-lock.json), served from console/node_modules.
CONSOLE_STAMP := console/node_modules/.installed

.PHONY: install run test lint format migrate demo bench clean screenshots

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(CONSOLE_STAMP): console/package.json console/package-lock.json
	cd console && npm ci --no-audit --no-fund --loglevel=error
	touch $(CONSOLE_STAMP)

install: $(STAMP) $(CONSOLE_STAMP) ## a .venv with the pinned dependencies; the console's npm packages (npm ci)

# One simple command, so that make forks the launcher itself (no shell in between): make then
# forwards a SIGTERM straight to it, and the launcher, seeing make as its parent, also stops when
# make alone gets SIGINT or SIGHUP (which make does not forward) or dies (cli/run.py, point 5).
run: $(STAMP) $(CONSOLE_STAMP) ## embedded PostgreSQL + Redis unless DATABASE_URL/REDIS_URL are set; migrate; demo; the four processes; SIGINT/SIGTERM stop it all
	$(PY) -m cli run

test: $(STAMP) $(CONSOLE_STAMP) ## the suite on 127.0.0.1 PostgreSQL/Redis (else embedded), then the `engines` tests on the embedded PostgreSQL 18 + Redis 6.2
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
	@set -e; for b in $(BENCHMARKS); do echo "== $$b"; \
		case $$b in bench.partitions) args="--requests 1200000";; *) args="";; esac; \
		$(PY) -m $$b $$args; done

.PHONY: fuzz
fuzz: $(STAMP) ## a long schemathesis run over both apps, stateless and stateful (docs/fuzz.md); FUZZ_ARGS="--examples N"
	$(PY) -m bench.fuzz $(FUZZ_ARGS)

screenshots: $(STAMP) $(CONSOLE_STAMP) ## the console's screenshots in docs/console/ (a real browser on the demo city; docs/console.md)
	$(PY) -m console.screenshots

clean:
	rm -rf $(VENV) .data build *.egg-info console/node_modules
