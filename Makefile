# The two commands of the README: `make demo` and `make test`. Each sets up what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
AGENTS := tools/agents

.PHONY: demo test lint typecheck pytest test-corpus test-phoenix phoenix canary agents bench clean

demo: $(VENV)/.installed
	$(BIN)/watchkeeper demo

test: $(VENV)/.installed agents lint typecheck pytest test-corpus test-phoenix

lint: $(VENV)/.installed
	$(BIN)/ruff check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy

# The core suite: needs nothing outside the repository.
pytest: $(VENV)/.installed
	$(BIN)/pytest -m "not corpus and not phoenix" $(PYTEST_ARGS)

# The corpus suite: the same reader checks on real transcripts kept beside the repository
# (WATCHKEEPER_CORPUS, default ../shared/samples). Without it the suite is skipped, except
# where CI is set: there a missing corpus fails the run.
CORPUS ?= $(or $(WATCHKEEPER_CORPUS),../shared/samples)

test-corpus: $(VENV)/.installed
	@if [ -d "$(CORPUS)" ]; then \
		WATCHKEEPER_CORPUS="$(abspath $(CORPUS))" $(BIN)/pytest -m corpus $(PYTEST_ARGS); \
	elif [ -n "$$CI" ] && [ "$$CI" != "false" ] && [ "$$CI" != "0" ]; then \
		echo "test-corpus: no transcript corpus at $(CORPUS), and CI requires it (set WATCHKEEPER_CORPUS)" >&2; \
		exit 1; \
	else \
		echo "test-corpus: no transcript corpus at $(CORPUS): corpus suite skipped (set WATCHKEEPER_CORPUS to run it)"; \
	fi

# The OTLP export's smoke test against a real Arize Phoenix (SQLite, loopback). Phoenix is heavy,
# so it gets a venv of its own, beside the project's; the test starts and stops the server.
PHOENIX_VENV := .phoenix-venv
PHOENIX_VERSION := 20.26.1

phoenix: $(PHOENIX_VENV)/.installed

$(PHOENIX_VENV)/.installed:
	$(PYTHON) -m venv $(PHOENIX_VENV)
	$(PHOENIX_VENV)/bin/pip install --quiet --upgrade pip
	$(PHOENIX_VENV)/bin/pip install --quiet 'arize-phoenix==$(PHOENIX_VERSION)'
	touch $@

test-phoenix: $(VENV)/.installed phoenix
	WATCHKEEPER_PHOENIX="$(abspath $(PHOENIX_VENV))/bin/phoenix" $(BIN)/pytest -m phoenix $(PYTEST_ARGS)

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "watchkeeper needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The live suites against the newest Claude Code and Codex on npm (installed into tools/canary/,
# not the pinned tools/agents/), with a report of what changed. Not part of `make test`.
canary: $(VENV)/.installed
	$(BIN)/python tests/canary.py

# The real agent CLIs the tests drive offline. Without npm this step is skipped and
# those tests skip, except where WATCHKEEPER_REQUIRE_AGENTS=1 (CI) makes them fail.
agents: $(AGENTS)/node_modules/.installed

$(AGENTS)/node_modules/.installed: $(AGENTS)/package.json $(AGENTS)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		cd $(AGENTS) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else \
		echo "npm not found: tests that drive real agent CLIs will skip"; \
	fi

bench: $(VENV)/.installed agents
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(PHOENIX_VENV) $(AGENTS)/node_modules .pytest_cache .mypy_cache .ruff_cache
