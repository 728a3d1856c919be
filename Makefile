PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint format types check system-deps clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

## run: the server on 127.0.0.1:8080, in-memory store, development secret, ready links
run: $(STAMP)
	@[ webclient/node_modules/.package-lock.json -nt webclient/package-lock.json ] || npm ci --prefix webclient --no-audit --no-fund
	$(BIN)/mayday serve --dev

## test: install what the tests need (Redis, Chromium) where missing, then the whole suite
test: $(STAMP) system-deps
	@[ webclient/node_modules/.package-lock.json -nt webclient/package-lock.json ] || npm ci --prefix webclient --no-audit --no-fund
	$(BIN)/pytest

system-deps:
	@bash scripts/install-system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check mayday tests load_tests
	$(BIN)/ruff format --check mayday tests load_tests

format: $(STAMP)
	$(BIN)/ruff format mayday tests load_tests
	$(BIN)/ruff check --fix mayday tests load_tests

types: $(STAMP)
	$(BIN)/mypy

check: lint types test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-output

## bench: the benchmarks in load_tests/ (minutes; not part of make test); plots in test-output/bench
bench: $(STAMP)
	$(BIN)/pip install -q -e '.[bench]' || echo "matplotlib did not install: no plots"
	mkdir -p test-output/bench
	$(BIN)/python -m load_tests.pairing --rate 200 --seconds 10
	$(BIN)/python -m load_tests.relay --rounds 3 --plot test-output/bench/relay-latency.png
	$(BIN)/python -m load_tests.routing
	$(BIN)/python -m load_tests.connections --connections 10000
