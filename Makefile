# Quick start: `make demo` (a real bulk import into the embedded sandbox) and `make test`.
PYTHON ?= python3
VENV := .venv
# The extras installed: .ci/run leaves out `docs` for the other Pythons, which run only the tests.
EXTRAS ?= test,bench,docs
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint types unit docs bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(STAMP)

# Exit status 1 means "some rows failed": here the example's 12 deliberately invalid rows, which
# the demo is meant to show (listed in failures.csv); any other failure still fails the target.
demo: $(STAMP)
	@$(BIN)/customer-sdk import examples/customers.csv --sandbox --report failures.csv; \
	status=$$?; \
	if [ $$status -eq 1 ]; then \
		echo "exit status 1: the example's deliberately invalid rows are listed in failures.csv"; \
	elif [ $$status -ne 0 ]; then exit $$status; fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy

# The suite mostly waits (servers, timeouts, sleeps: about 70 s of CPU in 180 s serially), so it
# runs in 4 pytest-xdist processes even on 2 cores; `make unit WORKERS=0` runs it in one process.
WORKERS ?= 4
unit: $(STAMP)
	$(BIN)/python -m pytest -n $(WORKERS)

# The API reference site (mkdocs.yml -> site/). --strict turns every warning into a failure: a
# broken link, a page missing from nav, a docstring griffe cannot parse. Nothing is fetched.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

test: lint types docs unit

bench: $(STAMP)
	$(BIN)/python -m benchmarks --write

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build dist site
