# Titan: two commands on a fresh machine.
#   make run   - set up a local venv and run the main job on bundled data (no keys, no network)
#   make test  - set up a local venv (with test extras) and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test setup setup-test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install -e .

setup-test: $(BIN)/python
	$(BIN)/pip install -e ".[test]"

run: setup
	$(BIN)/titan run
	$(BIN)/titan backtest --strategy strategies/ema_cross.py -p fast=60 -p slow=240 -p qty=0.05 \
		--report var/backtest.html

test: setup-test
	$(BIN)/python -m pytest -q

bench: setup
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b; done

clean:
	rm -rf build native/*.so native/_*.c *.egg-info
