# The two commands: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck pytest bench soak clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[cli,mock]'
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,cli,mock]'
	touch $@ $(STAMP_RUN)

demo: $(STAMP_RUN)
	$(BIN)/gongji demo

test: $(STAMP_DEV)
	$(BIN)/ruff check sdk adapters tests bench examples
	$(BIN)/ruff format --check sdk adapters tests bench examples
	$(BIN)/mypy
	bash scripts/postgres-for-tests.sh $(BIN)/python -m pytest

# A throwaway PostgreSQL for bench_journal, as for the tests.
bench: $(STAMP_DEV)
	@bash scripts/postgres-for-tests.sh sh -c 'status=0; for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || status=1; done; exit $$status'

# 20,000 operations of tills killed and recovered against a faulty mock; SOAK_ARGS="--seed N" replays one.
soak: $(STAMP_DEV)
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
