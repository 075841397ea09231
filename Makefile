# The two commands of the README: `make demo` and `make test`. Each sets up what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
AGENTS := tools/agents

.PHONY: demo test lint typecheck pytest agents bench clean

demo: $(VENV)/.installed
	$(BIN)/watchkeeper demo

test: $(VENV)/.installed agents lint typecheck pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy

pytest: $(VENV)/.installed
	$(BIN)/pytest $(PYTEST_ARGS)

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "watchkeeper needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

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
	rm -rf $(VENV) $(AGENTS)/node_modules .pytest_cache .mypy_cache .ruff_cache
