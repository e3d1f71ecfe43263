# The two commands of the contract: `make run` and `make test` (see README.md).
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT

.PHONY: run test setup lint typecheck migrations-check pytest browser clients bench serve clean cluster cluster-stop cluster-packages drill drill-fast

run: setup
	$(BIN)/rulecenter migrate --noinput
	$(BIN)/rulecenter loaddemo
	$(BIN)/rulecenter collectstatic --noinput -v0
	$(BIN)/rulecenter serve

test: setup browser clients lint typecheck migrations-check pytest

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || "$${PYTHON:-$$(bin/find-python)}" -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# Browser tests drive Debian's Chromium; install it when it is missing (never a downloaded browser), with
# CJK fonts so screenshots show Chinese rather than empty boxes; and axe-core, the accessibility checker
# they inject into every page, from npm at the version package-lock.json pins.
browser:
	@test -x /usr/bin/chromium && test -d /usr/share/fonts/opentype/noto || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk; }
	@command -v npm >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }
	@test -f node_modules/axe-core/axe.min.js || npm ci --no-audit --no-fund --silent

# The audit tests tamper with the database through the real command-line clients, as an operator would; the
# limits tests put the shipped nginx configuration (deploy/nginx/) in front of a live server.
clients:
	@command -v sqlite3 >/dev/null && command -v psql >/dev/null && test -x /usr/sbin/nginx || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sqlite3 postgresql-client nginx; }

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: setup
	$(BIN)/mypy rulecenter config tests

migrations-check: setup
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/rulecenter makemigrations --check --dry-run

pytest: setup
	$(BIN)/pytest

# The cluster on one machine (docs/deployment.md, "A cluster on one machine"): nginx with a shared cache,
# three app nodes, a PostgreSQL primary and its streaming replica, Redis, an RQ worker, index followers.
cluster: setup cluster-packages
	$(BIN)/python deploy/cluster/cluster.py start

cluster-stop:
	$(BIN)/python deploy/cluster/cluster.py stop

cluster-packages:
	@test -x /usr/sbin/nginx && ls /usr/lib/postgresql/*/bin/pg_basebackup >/dev/null 2>&1 && \
	  command -v redis-server >/dev/null && command -v wrk >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx postgresql redis-server wrk; }

# The fault drill under load (bench/faults.py): every fault, or the fast variant CI runs.
drill: setup cluster-packages
	$(BIN)/python -m bench.faults

drill-fast: setup cluster-packages
	$(BIN)/python -m bench.faults --fast

bench: setup
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) var node_modules .mypy_cache .ruff_cache .pytest_cache
