# Quickstart: `make demo` (diagnose the bundled example run), `make test` (the test suite).
# Both set up everything from nothing: a fresh machine needs only python3 (>= 3.11), pip and make.
# uv is used when present, plain venv + pip otherwise.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
UV := $(shell command -v uv 2>/dev/null)

ifdef UV
MKVENV = $(UV) venv -q --python $(PYTHON) $(VENV)
PIPINSTALL = $(UV) pip install -q --python $(BIN)/python
else
MKVENV = $(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install -q --upgrade pip
PIPINSTALL = $(BIN)/python -m pip install -q
endif

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(MKVENV)

# Stamp files record which extras are installed, so re-running is instant.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIPINSTALL) -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIPINSTALL) -e '.[test]'
	@touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/traintriage demo

test: $(VENV)/.installed-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
