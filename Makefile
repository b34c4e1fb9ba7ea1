# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LISTEN ?= tcp:8080:interface=127.0.0.1

.PHONY: run test lint typecheck unit bench clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "torsion needs Python 3.10+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.runtime: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.dev: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime
	@echo "try: curl -x http://127.0.0.1:8080 http://example.com/   (CONNECT: curl -x http://127.0.0.1:8080 https://example.com/)"
	$(BIN)/python -m torsion proxy --listen $(LISTEN) --access-log -

lint: $(VENV)/.dev
	$(BIN)/ruff check $(wildcard src tests bench examples)

typecheck: $(VENV)/.dev
	$(BIN)/mypy

unit: $(VENV)/.dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint typecheck unit

$(VENV)/.bench: $(VENV)/.dev
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	touch $@

# Benchmarks are not tests: run them on a quiet machine (see bench/README.md).
bench: $(VENV)/.bench
	$(BIN)/python -m bench.echo

clean:
	rm -rf $(VENV) build src/*.egg-info .mypy_cache .ruff_cache .hypothesis
