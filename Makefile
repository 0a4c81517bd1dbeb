# Two commands do all the set-up: `make run` and `make test`. Both create .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8080

.PHONY: run test lint format fuzz bench bench-admin clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

## run: API + admin + worker pool on http://localhost:$(PORT) (Ctrl-C stops it all)
run: $(VENV)/.runtime
	JOBQUEUE_DEMO_HANDLERS=$${JOBQUEUE_DEMO_HANDLERS:-1} JOBQUEUE_API_AUTH=$${JOBQUEUE_API_AUTH:-open} \
	  PORT=$(PORT) $(BIN)/python manage.py serve

## test: the whole suite (MongoDB store on mongomock, SQL store on SQLite)
test: $(VENV)/.dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## lint: ruff check and format check
lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## fuzz: schemathesis against the running service (keys required), on a spare port (FUZZ_PORT, 8179)
fuzz: $(VENV)/.dev
	bash .ci/fuzz

## bench: queue throughput, pickup latency and round trips per job
bench: $(VENV)/.dev
	JOBQUEUE_DEMO_HANDLERS=1 $(BIN)/python manage.py benchqueue --jobs 5000 --concurrency 8

## bench-admin: admin page timings with 100,000 jobs in a temporary SQLite store
bench-admin: $(VENV)/.dev
	$(BIN)/python manage.py benchadmin --jobs 100000

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
