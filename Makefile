# make demo   set everything up and run the demo on the embedded chain
# make test   set everything up and run every test
# make lint   ruff
# make contracts   recompile the Solidity contracts into src/dain/ledger/artifacts

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
# slither pins web3 < 8, which dain cannot run with: it gets a venv of its own
SLITHER_VENV := .venv-slither
SLITHER_STAMP := $(SLITHER_VENV)/.installed
NPM_STAMP := node_modules/.installed
# the dashboard's browser tests run in Debian's chromium; apt-get needs root (or sudo)
CHROMIUM_STAMP := $(VENV)/.chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all install demo test lint contracts clean

all: test

$(PY_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# Node.js is needed to build contracts and to install anvil and ethers for tests; running dain
# is not.
# `npm install --no-save` rather than `npm ci`: npm leaves other platforms' optional anvil
# binaries out of the lock file and `npm ci` then refuses it; --no-save keeps the lock as is.
$(NPM_STAMP): package.json package-lock.json
	npm install --no-audit --no-fund --no-save --loglevel=error
	touch $@

$(SLITHER_STAMP):
	test -x $(SLITHER_VENV)/bin/python || $(PYTHON) -m venv $(SLITHER_VENV)
	$(SLITHER_VENV)/bin/python -m pip install --quiet "slither-analyzer==0.11.6"
	touch $@

$(CHROMIUM_STAMP): $(PY_STAMP)
	command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium; }
	touch $@

install: $(PY_STAMP)

demo: $(PY_STAMP)
	$(BIN)/dain demo

test: $(PY_STAMP) $(NPM_STAMP) $(SLITHER_STAMP) $(CHROMIUM_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/pytest -n 2 --dist loadfile

lint: $(PY_STAMP)
	$(BIN)/ruff check src tests bench

contracts: $(NPM_STAMP)
	node contracts/build.cjs

clean:
	rm -rf $(VENV) $(SLITHER_VENV) node_modules .pytest_cache .ruff_cache .hypothesis test-results
