# The README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FLASK := $(BIN)/flask --app app
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install node-deps db demo lint bench bench-rsvp bench-proxy clean

# Node packages for the tests only (oidc-provider, the real OIDC peer; axe-core, the accessibility
# checker injected into pages by the browser journeys); `make run` never needs node.
# Reinstalled whenever package-lock.json is newer than the stamp (npm ci empties node_modules first).
NODE_STAMP := node_modules/.stamp-npm-ci

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  echo "npm ci --no-audit --no-fund"; npm ci --no-audit --no-fund && touch $(NODE_STAMP); \
	elif [ "$$CI" = true ]; then \
	  echo "npm is required in CI: the OIDC integration tests run the npm package oidc-provider" >&2; exit 1; \
	else \
	  echo "npm not found: the OIDC integration tests and the browser journeys will be skipped" >&2; \
	fi

node-deps: $(NODE_STAMP)

db: install
	$(FLASK) db upgrade

demo: db
	LECTERN_ENV=$${LECTERN_ENV:-development} $(FLASK) seed-demo

# The web server and the job consumer (emails, reminders, retention) side by side; Ctrl-C stops both.
run: demo
	@export LECTERN_ENV=$${LECTERN_ENV:-development}; \
	$(BIN)/huey_consumer consumer.huey --workers 2 --worker-type thread --logfile instance/jobs.log --quiet & \
	consumer=$$!; trap 'kill $$consumer 2>/dev/null; wait $$consumer 2>/dev/null' EXIT; \
	$(FLASK) run --host $(HOST) --port $(PORT)

test: install $(NODE_STAMP)
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python bench/talk_page.py

bench-rsvp: install
	$(BIN)/python bench/rsvp_burst.py

# nginx with deploy/nginx/lectern.conf in front of gunicorn, against nginx serving the same bytes as files.
bench-proxy: install
	$(BIN)/python bench/proxy_read.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache
