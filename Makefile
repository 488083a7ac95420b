# CommandCentral — `make run` and `make test` work on a fresh machine with Python 3.11 and make.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
# Empty: gunicorn.conf.py decides (GUNICORN_WORKERS / WEB_CONCURRENCY, else 2 on SQLite).
WORKERS ?=

.PHONY: run test test-postgres serve serve-stream install migrate seed collectstatic check clean bench bench-quick

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; set PYTHON=python3"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed

# A development secret for this checkout, written once, so `manage.py` commands work as the README shows
# them without DEBUG=1 (settings read .env; real environment variables win). Never used by the tests.
.env:
	@echo "# Written by make on first run: development settings of this checkout. Not for production." > $@
	@echo "SECRET_KEY=$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" >> $@
	@echo "wrote $@ (a generated development SECRET_KEY)"

migrate: install .env
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput

seed: migrate
	DEBUG=$${DEBUG:-1} $(PY) manage.py seed_demo

# Runs the development server with demo data (seeded once; seed_demo is idempotent).
# One task worker runs next to it (webhook deliveries, retries, the ledger's periodic sweep and checkpoint),
# and uvicorn on STREAM_PORT serves the live event stream (/api/v1/events/stream/: an ASGI server holds
# its many idle connections; runserver refuses them). Pages on PORT open the stream on STREAM_PORT with
# their session cookie: LIVE_STREAM_URL tells them where, CORS_ALLOWED_ORIGINS lets them. Both stop with the server.
STREAM_PORT ?= 8001
LIVE_ENV = LIVE_STREAM_URL=http://$(HOST):$(STREAM_PORT)/api/v1/events/stream/ CORS_ALLOWED_ORIGINS=http://$(HOST):$(PORT)
run: seed
	DEBUG=1 $(PY) manage.py schedule_maintenance
	@DEBUG=1 $(PY) manage.py db_worker --queue-name '*' --no-reload --verbosity 0 & worker=$$!; \
	DEBUG=1 $(LIVE_ENV) $(PY) -m uvicorn commandcentral.asgi:application --host $(HOST) --port $(STREAM_PORT) \
		--no-access-log --no-proxy-headers --timeout-graceful-shutdown 2 & stream=$$!; \
	trap 'kill $$worker $$stream 2>/dev/null' EXIT INT TERM; \
	DEBUG=1 $(LIVE_ENV) $(PY) manage.py runserver $(HOST):$(PORT)

# The live event stream alone, production-style (docs/operations.md, "The live event stream"): uvicorn on
# STREAM_PORT, beside `make serve`; a proxy sends /api/v1/events/stream/ here and everything else to gunicorn.
# --no-proxy-headers: the app reads X-Forwarded-* itself, from TRUSTED_PROXIES only, as under gunicorn.
serve-stream: install collectstatic
	$(PY) -m uvicorn commandcentral.asgi:application --host $(HOST) --port $(STREAM_PORT) --no-access-log \
		--timeout-graceful-shutdown 5 --no-proxy-headers

# Test processes: `auto` is one pytest-xdist worker per CPU, each with its own SQLite test database;
# TEST_WORKERS=0 runs the suite in a single process.
TEST_WORKERS ?= auto

# The layering contracts first (.importlinter: core at the bottom, no cycles), then the suite. Its coverage
# data goes to a folder of this run's own (a run beside it in this checkout would otherwise combine, or
# erase, the same files); the finished data is then renamed to .coverage, for `coverage html` and the like.
test: install
	$(VENV)/bin/lint-imports
	@run=$$(mktemp -d .test-run-XXXXXX) && trap 'rm -rf "$$run"' EXIT && \
	echo "$(PY) -m pytest -n $(TEST_WORKERS) --cov --cov-report=term-missing:skip-covered --cov-fail-under=85 $(PYTEST_ARGS)" && \
	COVERAGE_FILE=$$run/.coverage $(PY) -m pytest -n $(TEST_WORKERS) \
		--cov --cov-report=term-missing:skip-covered --cov-fail-under=85 $(PYTEST_ARGS); \
	status=$$?; if [ -f "$$run/.coverage" ]; then mv -f "$$run/.coverage" .coverage; fi; exit $$status

# The same suite against the local PostgreSQL (PostgreSQL-only tests run instead of skipping).
test-postgres: install
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/commandcentral} $(PY) -m pytest --create-db $(PYTEST_ARGS)

collectstatic: install
	$(PY) manage.py collectstatic --noinput -v0

# Production-style serving: gunicorn + whitenoise. Needs SECRET_KEY (and DEBUG off); see README.
serve: install collectstatic
	$(PY) manage.py migrate --noinput
	$(if $(WORKERS),GUNICORN_WORKERS=$(WORKERS)) $(VENV)/bin/gunicorn -c gunicorn.conf.py --bind $(HOST):$(PORT)

# Performance benchmark (bench/README.md): throwaway SQLite and PostgreSQL databases, gunicorn with one
# sync worker, wrk (apt-get install -y wrk). Options via BENCH_* variables, e.g.
# `make bench BENCH_AUDIT_SCALE=10000,100000,1000000`. Results: the printed tables and bench-results/*.json.
bench: install
	$(PY) -m bench

# About a minute: SQLite only, 5 s per operation, 10,000 audit rows.
bench-quick: install
	BENCH_BACKENDS=$${BENCH_BACKENDS:-sqlite} BENCH_DURATION=$${BENCH_DURATION:-5} BENCH_AUDIT_SCALE=$${BENCH_AUDIT_SCALE:-10000} $(PY) -m bench

check: install
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) db.sqlite3* test-db*.sqlite3* audit-signer.state* staticfiles .coverage .test-run-* htmlcov .pytest_cache
