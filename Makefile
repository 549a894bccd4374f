# Two commands on a fresh machine that has only Python, pip and git:
#   make demo   the controller's main loop against an embedded AWS emulator
#   make test   lint, types, import layers and the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-slow lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[demo]'
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

demo: $(VENV)/.demo-installed
	$(BIN)/gitops demo

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check controller tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest -n 2 --dist loadscope -m "not slow"

# The second resource of every kind from birth to prune (tests/conformance): minutes more.
test-slow: $(VENV)/.dev-installed
	$(BIN)/pytest -n 2 --dist loadscope -m slow

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
