# The two commands of the README: `make book` and `make test`.
# Each creates .venv if missing and installs the pinned dependencies once.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
SCALE ?= ci
INSTALLED := $(VENV)/.installed

.PHONY: book test notebooks clean

$(INSTALLED): pyproject.toml requirements/constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements/constraints.txt -e '.[all]'
	@# Optional fast FE backend (CHOLMOD): built against Debian's SuiteSparse when present.
	@if [ -f /usr/include/suitesparse/cholmod.h ]; then \
	    $(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements/constraints.txt -e '.[cholmod]' \
	    || echo "warning: scikit-sparse did not build; the FE solver falls back to SuperLU"; \
	else echo "note: no SuiteSparse headers (apt install libsuitesparse-dev): the FE solver uses SuperLU"; fi
	@touch $@

# Execute the notebooks with papermill (only those whose inputs changed), then render.
notebooks: $(INSTALLED)
	$(BIN)/python book/execute.py --scale $(SCALE)

book: notebooks
	@mkdir -p _static
	@cp $$($(BIN)/python -c 'import plotly, pathlib; print(pathlib.Path(plotly.__file__).parent / "package_data" / "plotly.min.js")') _static/plotly.min.js
	$(BIN)/jupyter-book build --all --warningiserror --nitpick --keep-going . 
	@echo "The book: $(CURDIR)/_build/html/index.html"

# Unit tests, the notebooks re-run and checked by nbval, and checks of the built book.
test: book
	$(BIN)/python -m pytest tests --nbval-lax book/generated --durations=12

clean:
	rm -rf _build book/generated _static/plotly.min.js
