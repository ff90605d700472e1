# The README's two commands: `make up` and `make test`. Every target sets up .venv by itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test test-compose lint bench mutation venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "minternet needs Python >= 3.11 (found $$($(PYTHON) --version))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

up: $(STAMP)
	$(BIN)/minternet up $(ARGS)

test: $(STAMP)
	$(BIN)/pytest $(ARGS)

# `docker compose up` tested end to end: tools/compose-env brings the Docker engine, Compose v2
# and a base image (debootstrap) when missing; then tests/compose builds, starts and uses it.
test-compose: $(STAMP)
	BASE_IMAGE=$$(VENV=$(VENV) tools/compose-env | sed -n 's/^BASE_IMAGE=//p') && \
		test -n "$$BASE_IMAGE" && export BASE_IMAGE && \
		MINTERNET_COMPOSE_TEST=1 $(BIN)/pytest tests/compose $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

# mutmut (and its UI dependencies) only for this target: CI and `make test` do not need it.
mutation: $(STAMP)
	$(BIN)/python -c 'import mutmut' 2>/dev/null || $(BIN)/python -m pip install -q 'mutmut==3.8.1'
	$(BIN)/python tools/mutation.py $(ARGS)

clean:
	rm -rf $(VENV) .minternet .pytest_cache .mypy_cache .ruff_cache mutants
