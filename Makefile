PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast lint format types check system-deps clean bench

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
	$(BIN)/pytest -n 2

## test-fast: the inner loop: everything but the browser, WebRTC, multi-process and wheel tests (Redis still runs)
test-fast: $(STAMP)
	$(BIN)/pytest -n 2 -m "not browser and not webrtc and not cluster and not slow" -q

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

## bench: the benchmarks in load_tests/ (about 20 minutes; not part of make test); plots in test-output/bench
bench: $(STAMP) system-deps
	$(BIN)/pip install -q -e '.[bench]' || echo "the bench extra did not install: no plots, exact percentiles"
	mkdir -p test-output/bench
	$(BIN)/python -m load_tests.pairing --rate 200 --seconds 10 --store both \
		--plot test-output/bench/pairing-latency.png
	$(BIN)/python -m load_tests.relay --mode pingpong --rounds 3 --pp-seconds 10
	$(BIN)/python -m load_tests.relay --mode stream --rounds 5 --latency-seconds 10 --plot test-output/bench/relay-latency.png
	$(BIN)/python -m load_tests.relay --mode stream --targets mayday,mayday-redis --rounds 3
	$(BIN)/python -m load_tests.relay --mode stream --rounds 3 --compress
	$(BIN)/python -m load_tests.frame_path
	$(BIN)/python -m load_tests.routing
	$(BIN)/python -m load_tests.connections --connections 10000
	$(BIN)/python -m load_tests.reconnect_storm --sessions 2000
	$(BIN)/python -m load_tests.simulator --seconds 180 --rate 4 --advisors 30 --handle-mean 6 \
		--accept-delay 0.3 --target 2 --warmup 20 --media 2 \
		--plot test-output/bench/simulator-latency.png --json test-output/bench/simulator.json
	$(BIN)/python -m load_tests.simulator --seconds 180 --rate 4 --advisors 30 --handle-mean 6 \
		--accept-delay 0.3 --target 2 --warmup 20 --redis --nodes 2 \
		--plot test-output/bench/simulator-redis-latency.png
	$(BIN)/python -m load_tests.simulator --profile load_tests/profiles/peak-day.csv \
		--minute-seconds 30 --advisors 12 --handle-mean 6 --patience-mean 20 \
		--plot test-output/bench/simulator-peak-day.png
	$(BIN)/python -m load_tests.e2e_browser --repetitions 20 --plot test-output/bench/e2e-browser.png
