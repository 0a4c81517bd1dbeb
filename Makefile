# Two commands do all the set-up: `make run` and `make test`. Both create .venv.
PYTHON ?= python3
VENV := .venv
# `make test DJANGO=6`: the suite on the newest Django (6.x needs Python 3.12+) in its own venv.
DJANGO ?= 5
DJANGO_REQUIREMENTS :=
ifeq ($(DJANGO),6)
# The first Python 3.12+ found: $(PYTHON312), else python3.13/python3.12 on PATH, else pyenv's.
PYTHON312 ?= $(shell for p in python3.13 python3.12 $$HOME/.pyenv/versions/3.1[2-9]*/bin/python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$p; break; }; done)
PYTHON := $(or $(PYTHON312),$(error Django 6 needs Python 3.12 or newer: none found; set PYTHON312=/path/to/python3.12))
VENV := .venv-django6
DJANGO_REQUIREMENTS := requirements-django6.txt
endif
BIN := $(VENV)/bin
PORT ?= 8080

.PHONY: run test test-postgres test-mongo lint format fuzz bench bench-peers bench-admin bench-http chaos clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(DJANGO_REQUIREMENTS) | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(if $(DJANGO_REQUIREMENTS),$(BIN)/pip install --quiet -r $(DJANGO_REQUIREMENTS))
	touch $@ $(VENV)/.runtime

## run: API + admin + worker pool on http://localhost:$(PORT) (Ctrl-C stops it all)
run: $(VENV)/.runtime
	JOBQUEUE_DEMO_HANDLERS=$${JOBQUEUE_DEMO_HANDLERS:-1} JOBQUEUE_API_AUTH=$${JOBQUEUE_API_AUTH:-open} \
	  PORT=$(PORT) $(BIN)/python manage.py serve

## test: the whole suite (MongoDB store on mongomock, SQL store on SQLite); DJANGO=6 for Django 6.x
test: $(VENV)/.dev
	$(BIN)/python -c 'import django; print("Django", django.get_version())'
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## test-postgres: the whole suite on a throwaway PostgreSQL cluster (installs Debian's postgresql if missing)
test-postgres: $(VENV)/.dev
	.ci/postgres.sh $(PYTEST_ARGS)

## test-mongo: the MongoDB tests over the wire against CongoDB (installed into var/congodb)
test-mongo: $(VENV)/.dev
	.ci/mongo.sh $(PYTEST_ARGS)

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

## bench-peers: us, Huey and django-tasks-db on the same workload (peers in a throw-away venv under var/)
bench-peers: $(VENV)/.dev
	$(BIN)/python bench/peers.py --jobs 5000 --threads 8 --rounds 3

## bench-admin: admin page timings with 100,000 jobs in a temporary SQLite store
bench-admin: $(VENV)/.dev
	$(BIN)/python manage.py benchadmin --jobs 100000

## bench-http: POST /jobs throughput and latency of serve while its workers run the jobs, with and without 64 slow clients
bench-http: $(VENV)/.dev
	$(BIN)/python manage.py benchhttp --seconds 5 --connections 8,32 --slow 64

## chaos: kill -9, SIGHUP, slow clients, a locked store and a taken port against a real `serve`
chaos: $(VENV)/.runtime
	$(BIN)/python manage.py chaos

clean:
	rm -rf .venv .venv-django6 var .pytest_cache .ruff_cache
