# `make train` and `make test` set up .venv from requirements.txt on first use, then run;
# `make test` adds the PyTorch references of the parity tests (requirements-test.txt).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
TEST_INSTALLED := $(VENV)/.installed-test

.PHONY: setup train test lint

setup: $(INSTALLED)

$(INSTALLED): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

train: $(INSTALLED)
	$(BIN)/python -m gan.main --config=configs/dcgan.py --workdir=runs/dcgan

$(TEST_INSTALLED): $(INSTALLED) requirements-test.txt requirements-bench.txt
	$(BIN)/pip install --quiet -r requirements-test.txt
	touch $@

test: $(TEST_INSTALLED)
	$(BIN)/python -m pytest

lint: $(INSTALLED)
	$(BIN)/ruff check gan configs experiments tests
	$(BIN)/ruff format --check gan configs experiments tests
