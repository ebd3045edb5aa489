# mediastat developer entry points. Needs only Python 3.11+, Java 17 and Maven on a fresh clone:
# the venv is built on demand and the local Kafka's jars are fetched from Maven Central once.

SHELL  := /bin/bash
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Reinstall only when pyproject.toml changes (the stamp is newer than it otherwise).
STAMP  := $(VENV)/.installed-stamp

.PHONY: venv broker topics run test test-fast spec-check bench lint stop

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

## start the local Kafka broker (KRaft, free ports on 127.0.0.1; `mediastat broker status` shows them)
broker: venv
	$(BIN)/mediastat broker start

topics: venv
	$(BIN)/mediastat topics

AGENTS ?= 50
SPEED  ?= 1
## a live contact centre: broker + topics + the worker with its wallboard (URL printed) + the live
## simulator; Ctrl-C stops the worker and the simulator, not the broker (`make stop`)
run: broker topics
	@mkdir -p .run
	@$(BIN)/mediastat simulate --agents $(AGENTS) --write-config .run/live.stats.yaml
	@BIN=$(BIN) CONFIG=.run/live.stats.yaml AGENTS=$(AGENTS) SPEED=$(SPEED) bash deploy/live.sh

TEST_PROCS ?= 2
## every test: the broker-free ones on $(TEST_PROCS) processes (pytest-xdist), then the integration
## tests one at a time (they share one broker and start workers of their own; tests/conftest.py).
## Both parts always run; the exit status is the first part's failure, else the second's.
test: venv
	@status=0; \
	$(BIN)/python -m pytest -m "not integration" -n $(TEST_PROCS) || status=$$?; \
	$(BIN)/python -m pytest -m integration || { s=$$?; [ $$status -ne 0 ] || status=$$s; }; \
	exit $$status

test-fast: venv
	$(BIN)/python -m pytest -m "not integration and not slow" -n $(TEST_PROCS)

## only the checks against the specification's worked scenarios: $$MEDIASTAT_SPEC_DIR, else
## ../shared/spec; fails (pytest exit code 4, with the reason) when that folder is missing
spec-check: venv
	$(BIN)/python -m pytest --spec-check

BENCH_ARGS ?=
## the benchmark table (docs/bench.md), printed and appended to bench/HISTORY.md; on
## $$KAFKA_BOOTSTRAP_SERVERS if set, else on the local broker (started here);
## e.g. make bench BENCH_ARGS="--quick --only replay-200,worker"
bench: venv
	@if [ -z "$$KAFKA_BOOTSTRAP_SERVERS" ]; then $(BIN)/mediastat broker start; fi
	$(BIN)/python -m tests.bench.run $(BENCH_ARGS)

lint: venv
	$(BIN)/ruff check .

## stop the local broker started by `make broker` / `make run`
stop: venv
	$(BIN)/mediastat broker stop
