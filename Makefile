# Two commands on a fresh machine: `make train` and `make test`.
# Each target installs into a project-local virtual environment (.venv) with uv when it is
# missing or older than pyproject.toml / uv.lock: exactly the versions in uv.lock (`uv sync --frozen`,
# every extra the tests need), so every machine trains with the same packages. `make lock`
# re-resolves uv.lock within pyproject.toml's ranges (commit the result).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := python3 -m uv
endif
ARGS ?=

.PHONY: install lock train test test-fast bench lint clean

$(STAMP): pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --quiet --frozen --extra dev --python python3
	touch $(STAMP)

install: $(STAMP)

lock:
	$(UV) lock

train: $(STAMP)
	$(VENV)/bin/seglightning-train $(ARGS)

test: $(STAMP)
	$(PY) -m pytest -q $(ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" $(ARGS)

bench: $(STAMP)
	$(PY) -m benchmarks $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check seglightning tests benchmarks

clean:
	rm -rf $(VENV) outputs .pytest_cache
