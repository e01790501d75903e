# Two commands set everything up on a fresh Debian/Ubuntu machine:
#   make demo   the main job on the embedded store
#   make test   the whole test suite (installs the system packages the tests need)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test bench install dev system-deps clean

$(BIN)/python:
	@scripts/system-deps.sh demo
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip setuptools wheel

$(VENV)/.installed: pyproject.toml setup.py | $(BIN)/python
	$(PIP) install -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml setup.py | $(BIN)/python
	$(PIP) install -e '.[dev]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev

system-deps:
	@scripts/system-deps.sh test

demo: install
	$(BIN)/infermeter demo

test: dev system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: dev
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info infermeter-data
