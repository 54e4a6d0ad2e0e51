# The two commands: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck pytest bench clean fuzz

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

# The fuzz targets alone, long: random, 200,000 examples each (`make test` runs them at
# 10,000, derandomized); a failure found is kept in .hypothesis/ and replayed first.
fuzz: $(STAMP_DEV)
	GONGJI_FUZZ_PROFILE=fuzz $(BIN)/python -m pytest tests/fuzz -m fuzz

# A throwaway PostgreSQL for bench_journal, as for the tests.
bench: $(STAMP_DEV)
	@bash scripts/postgres-for-tests.sh sh -c 'status=0; for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || status=1; done; exit $$status'

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
