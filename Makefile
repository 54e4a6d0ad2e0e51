# The two commands: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck pytest bench docs soak fuzz mutate clean

# The venv's own pip (23+ with Python 3.11) installs editable projects: upgrading it
# first would cost `make demo` a round trip to the index for nothing.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[cli,mock,testing]'
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,cli,mock]'
	touch $@ $(STAMP_RUN)

demo: $(STAMP_RUN)
	$(BIN)/gongji demo

test: $(STAMP_DEV)
	$(BIN)/ruff check sdk adapters tests bench examples tools
	$(BIN)/ruff format --check sdk adapters tests bench examples tools
	$(BIN)/mypy
	bash scripts/chromium-for-tests.sh
	bash scripts/postgres-for-tests.sh $(BIN)/python -m pytest
	$(BIN)/python -m tools.mutation --if-changed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir site

# The fuzz targets alone, long: random, 200,000 examples each (`make test` runs them at
# 10,000, derandomized); a failure found is kept in .hypothesis/ and replayed first.
fuzz: $(STAMP_DEV)
	GONGJI_FUZZ_PROFILE=fuzz $(BIN)/python -m pytest tests/fuzz -m fuzz

# Mutation testing of the core that decides who pays (mutation.toml: the modules, the fast
# tests, the kill rate each module must keep). 2 workers; MUTATE="money planner" for some.
mutate: $(STAMP_DEV)
	$(BIN)/python -m tools.mutation $(MUTATE)

# A throwaway PostgreSQL for bench_journal, as for the tests, but with fsync on.
bench: $(STAMP_DEV)
	@GONGJI_TEST_POSTGRES_FSYNC=on bash scripts/postgres-for-tests.sh sh -c 'status=0; for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || status=1; done; exit $$status'

# The documentation site, rebuilt as you edit, at http://127.0.0.1:8000/.
docs: $(STAMP_DEV)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

# 20,000 operations of tills killed and recovered against a faulty mock; SOAK_ARGS="--seed N" replays one.
soak: $(STAMP_DEV)
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

clean:
	rm -rf site $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
