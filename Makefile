# Two commands do the set-up on a fresh machine: `make dev` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.install-stamp

.PHONY: dev test test-midnight lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[all,dev]'
	touch $(STAMP)

dev: $(STAMP)  ## run the local stack
	$(BIN)/wxapush dev

test: $(STAMP)  ## lint, type-check and run the whole test suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

test-midnight: $(STAMP)  ## the suite again a minute before Shanghai's and a far-off zone's midnight
	WXAPUSH_TEST_CLOCK=23:59 $(BIN)/pytest -q
	TZ=Etc/GMT+12 WXAPUSH_TEST_CLOCK='23:59 local' $(BIN)/pytest -q

bench: $(STAMP)  ## run the benchmarks (on demand, never in CI)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .wxapush .pytest_cache .mypy_cache .ruff_cache .hypothesis test-artifacts
