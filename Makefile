# The two commands of the README: `make run` (the whole pipeline) and `make test`.
# Both create .venv and install the project into it first if needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kerasforge-installed
export DVC_NO_ANALYTICS := 1
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install run test test-fast params dvc-yaml manifest dvc lint docs docs-serve clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The stamp tells `show` whether DVC recomputed the metrics in this run or skipped evaluate (nothing changed).
run: install
	@mkdir -p .kerasforge && touch .kerasforge/run-started
	$(BIN)/dvc repro
	@echo "test metrics (eval/metrics.json; all of them: dvc metrics show):"
	@$(BIN)/python -m workflows.show --since .kerasforge/run-started

# Two test processes (the machine's two cores), each test file in one of them.
test: install
	$(BIN)/python -m pytest -n 2 --dist loadfile

# The inner loop: everything but the end-to-end DVC and multi-training tests.
test-fast: install
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not slow"

# Any DVC command with the venv's Python first on PATH (the stage commands run `python`):
#   make dvc ARGS="exp run -S optimizer=sgd"      make dvc ARGS="exp show"
dvc: install
	$(BIN)/dvc $(ARGS)

# params.yaml is what `dvc repro` reads: the composition of conf/'s defaults.
params: install
	$(BIN)/python -m workflows.config --out params.yaml

# dvc.yaml is generated from workflows/config/stage_table.py.
dvc-yaml: install
	$(BIN)/python -m workflows.stages --write

# plugins/manifest.json (every built-in plugin's parameter names, read without Keras) from the builders' signatures.
manifest: install
	$(BIN)/python -m plugins manifest --write

# Style, the floors' import rule and the generated files, before the tests (.ci/run; .pre-commit-config.yaml).
LINTED := plugins workflows tests benchmarks docs
# The documentation site's generated pages (docs/reference/, docs/changelog.md); `make docs-serve` to read it.
docs: install
	$(BIN)/python docs/generate.py

docs-serve: docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

lint: install
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m workflows.stages | diff -u dvc.yaml - || { echo "dvc.yaml drifted from workflows/config/stage_table.py: make dvc-yaml"; exit 1; }
	$(BIN)/python -m workflows.config | diff -u params.yaml - || { echo "params.yaml drifted from conf/: make params"; exit 1; }
	$(BIN)/python -m plugins manifest --check  # an entry that changed or is gone; a new plugin passes (the registry checks it)
	$(BIN)/python docs/generate.py --check  # the reference pages and the changelog page, from the code: make docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir $$(mktemp -d)  # a broken link or page fails (--quiet would hide the warnings --strict counts)

clean:
	rm -rf data/prepared data/augmented models dvclive eval outputs multirun .kerasforge
