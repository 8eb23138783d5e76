# Two commands set everything up on a fresh Debian/Ubuntu machine: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
STAMP := $(VENV)/.installed-stamp

.PHONY: run test bench soak install lint services-up services-down clean

$(STAMP): pyproject.toml scripts/bootstrap.sh
	scripts/bootstrap.sh
	touch $(STAMP)

install: $(STAMP)

## run: start Postgres/Redis/S3 (or use DATABASE_URL/REDIS_URL/S3_ENDPOINT_URL), migrate, serve
run: install
	scripts/run.sh

## test: ruff, mypy and pytest against real Postgres, Redis and S3
test: install
	scripts/test.sh

## bench: issue 7's benchmark, every part (bench/README.md); ARGS="--scale 0.01" for a quick run
bench: install
	scripts/bench.sh $(ARGS)

## soak: issue 8's long fault scenario (30 min); ARGS="--submissions 600 --minutes 3" to try it
soak: install
	scripts/soak.sh $(ARGS)

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy .

services-up:
	scripts/services.sh up --profile run

services-down:
	scripts/services.sh down --profile run

clean:
	scripts/services.sh down --profile run || true
	scripts/services.sh down --profile test || true
	rm -rf .devdata $(VENV) .mypy_cache .ruff_cache .pytest_cache
