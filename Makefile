# The two commands of the README: `make book` and `make test`.
# Each creates .venv if missing and installs the pinned dependencies once.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
SCALE ?= paper
INSTALLED := $(VENV)/.installed

.PHONY: book test notebooks reproduce paper-book ci-pipeline clean

$(INSTALLED): pyproject.toml requirements/constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements/constraints.txt -e '.[all]'
	@touch $@

# The expensive steps (dataset, training, baselines; then the 3D route's cubes, laws and
# network) into results/$(SCALE); each step is
# skipped when up to date. At paper scale this takes hours; its results are committed.
reproduce: $(INSTALLED)
	$(BIN)/python -m bonebook.reproduce --scale $(SCALE)
	$(BIN)/python -m bonebook.reproduce_3d --scale $(SCALE)

# Execute the notebooks with papermill (only those whose inputs changed), then render.
# The paper-scale book reads the committed results; any other scale makes its own first.
notebooks: $(INSTALLED)
	@if [ "$(SCALE)" != paper ]; then $(MAKE) --no-print-directory reproduce SCALE=$(SCALE); fi
	$(BIN)/python -m bonebook.execute --scale $(SCALE)

book: notebooks
	@mkdir -p _static
	@cp $$($(BIN)/python -c 'import plotly, pathlib; print(pathlib.Path(plotly.__file__).parent / "package_data" / "plotly.min.js")') _static/plotly.min.js
	$(BIN)/jupyter-book build --all --warningiserror --nitpick --keep-going . 
	@rm -rf _build/html-$(SCALE) && cp -r _build/html _build/html-$(SCALE)
	@echo "The book ($(SCALE) scale): $(CURDIR)/_build/html/index.html"

# Both books (paper scale from the committed results, ci scale from a fresh run of the
# whole pipeline), unit tests, the ci notebooks re-run by nbval, and checks of both books;
# pytest runs one worker per core (each notebook, each test file, on one worker).
# The paper-scale book and the ci-scale pipeline share no files: they run side by side (the
# book's long chapter leaves a core idle), then the ci-scale book reads what the pipeline wrote.
test: $(INSTALLED)
	$(MAKE) --no-print-directory --jobs 2 paper-book ci-pipeline
	$(MAKE) --no-print-directory book SCALE=ci
	$(BIN)/python -m pytest tests bonelib bonebook --doctest-modules --nbval-lax book/generated --numprocesses auto --dist loadfile --durations=12

paper-book: $(INSTALLED)
	$(MAKE) --no-print-directory book SCALE=paper

ci-pipeline: $(INSTALLED)
	$(MAKE) --no-print-directory reproduce SCALE=ci

clean:
	rm -rf _build book/generated _static/plotly.min.js
