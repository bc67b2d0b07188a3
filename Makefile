# The two commands: `make run` (everything, on embedded defaults unless DATABASE_URL/REDIS_URL are
# set) and `make test` (the whole suite on PostgreSQL and Redis). See README.md.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
SANDBOX_PORT ?= 8900
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/scrm
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1
SCHEMA_FUZZ := tests/messaging/test_miniprogram_schema.py tests/test_operator_api_schema.py
# The e2e stack's own database (dropped and created again on every run: its name must contain "e2e")
# and Redis db (flushed on every run), and its ports.
E2E_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/scrm_e2e
E2E_REDIS_URL ?= redis://127.0.0.1:6379/5
E2E_PORT ?= 8780
E2E_SANDBOX_PORT ?= 8790

# `make chaos`: its own database (created when missing), its own redis-server (started and stopped by
# the drills) and ports.
CHAOS_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/scrm_chaos
CHAOS_REDIS_PORT ?= 6391
CHAOS_PORT ?= 8810
CHAOS_SANDBOX_PORT ?= 8811

.PHONY: run test e2e lint bench chaos drill-2hosts venv migrate demo clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

run: venv
	PORT=$(PORT) SANDBOX_PORT=$(SANDBOX_PORT) bash scripts/run_stack.sh

test: venv
	bash scripts/ensure_services.sh "$${DATABASE_URL:-$(TEST_DATABASE_URL)}" "$${REDIS_URL:-$(TEST_REDIS_URL)}"
	DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" REDIS_URL="$${REDIS_URL:-$(TEST_REDIS_URL)}" \
		SCRM_TESTING=1 $(PY) -m pytest -n $${PYTEST_WORKERS:-2} --dist loadfile -q $(addprefix --ignore=,$(SCHEMA_FUZZ)) $(PYTEST_ARGS)
	# The schema fuzz runs in one process: its cases share one node id per function, and xdist
	# would run one of the mini-program API's operations instead of all of them.
	DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" REDIS_URL="$${REDIS_URL:-$(TEST_REDIS_URL)}" \
		SCRM_TESTING=1 $(PY) -m pytest -p no:xdist -q $(SCHEMA_FUZZ)

e2e: venv
	@test -x "$${E2E_CHROMIUM:-/usr/bin/chromium}" || { echo "Chromium not found: apt-get install -y chromium fonts-noto-cjk (or set E2E_CHROMIUM)"; exit 1; }
	bash scripts/ensure_services.sh "$(E2E_DATABASE_URL)" "$(E2E_REDIS_URL)"
	E2E_DATABASE_URL="$(E2E_DATABASE_URL)" E2E_REDIS_URL="$(E2E_REDIS_URL)" E2E_PORT=$(E2E_PORT) E2E_SANDBOX_PORT=$(E2E_SANDBOX_PORT) \
		$(PY) -m pytest -c tests_e2e/pytest.ini tests_e2e $(E2E_ARGS)

lint: venv
	$(VENV)/bin/ruff check .

bench: venv
	bash scripts/ensure_services.sh "$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/scrm_bench}" "$${REDIS_URL:-redis://127.0.0.1:6379/9}"
	DATABASE_URL="$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/scrm_bench}" $(PY) scripts/ensure_database.py
	DATABASE_URL="$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/scrm_bench}" REDIS_URL="$${REDIS_URL:-redis://127.0.0.1:6379/9}" \
		ALLOWED_HOSTS=$${ALLOWED_HOSTS:-127.0.0.1,localhost} SECRET_KEY=$${SECRET_KEY:-bench-only-not-secret-0123456789-abcdefghijklmnopqrstuvwxyz} SECURE_SSL_REDIRECT=$${SECURE_SSL_REDIRECT:-false} FIELD_ENCRYPTION_KEY=$${FIELD_ENCRYPTION_KEY:-YmVuY2gtb25seS1rZXktMzItYnl0ZXMtbG9uZyEhISE=} \
		$(PY) manage.py bench

# Drills against a real stack: Redis stopped, the dispatch worker killed, PostgreSQL backends
# terminated, a quota hit (docs/reliability.md). Not part of `make test`; about 10 minutes.
chaos: export DEBUG=true
chaos: venv
	DATABASE_URL="$(CHAOS_DATABASE_URL)" $(PY) scripts/ensure_database.py
	DATABASE_URL="$(CHAOS_DATABASE_URL)" $(PY) manage.py migrate --noinput -v 0
	DATABASE_URL="$(CHAOS_DATABASE_URL)" REDIS_URL="redis://127.0.0.1:$(CHAOS_REDIS_PORT)/0" \
		$(PY) manage.py chaos --port $(CHAOS_PORT) --sandbox-port $(CHAOS_SANDBOX_PORT) --redis-port $(CHAOS_REDIS_PORT) $(CHAOS_ARGS)

# The two-host drill (root: network namespaces). Its own database and Redis db (flushed):
# DRILL_DATABASE_URL, DRILL_REDIS_URL; DRILL_ARGS go to manage.py drill_2hosts.
drill-2hosts: venv
	bash scripts/drill_2hosts.sh $(DRILL_ARGS)

clean:
	rm -rf var
