# Two entry points for a fresh machine (Python 3.11, no GPU, package registries only):
#   make demo   set up, then run the main job on the bundled sample (embedded store)
#   make test   set up with the dev tools, check the structure, then run the whole test suite
#   make check  import-linter layer contracts + mypy on the package as installed (build/lint)
# Everything is installed into ./.venv; Debian packages with apt-get (as root or via sudo).

PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DB     ?= demo.kb
APT_RUNTIME := wordnet-base wordnet-sense-index
APT_TEST    := $(APT_RUNTIME) chromium

.PHONY: demo test test-fast check setup setup-dev apt-runtime apt-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

apt-runtime:
	@dpkg -s $(APT_RUNTIME) >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_RUNTIME); }

apt-test:
	@dpkg -s $(APT_TEST) >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_TEST); }

setup: $(BIN)/python apt-runtime
	# torch first, pinned (the sentence encoder needs it); serve: the explorer the demo ends with
	$(BIN)/pip install -q torch==2.14.1
	$(BIN)/pip install -q -e '.[sample,content,serve]'

setup-dev: $(BIN)/python apt-test
	# torch + torchvision first, pinned to builds that run on the CPU
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -e '.[dev]'

demo: setup
	rm -rf $(DB) $(DB).wal sample
	$(BIN)/evokegraph --db $(DB) init
	$(BIN)/evokegraph sample sample
	$(BIN)/evokegraph --db $(DB) ingest sample --no-progress
	$(BIN)/evokegraph --db $(DB) caption --depth 1 --depth 2 --depth 3 --depth 4 --depth 5 --depth 7
	$(BIN)/evokegraph --db $(DB) stats
	$(BIN)/evokegraph --db $(DB) show sample/coffee.jpg
	$(BIN)/evokegraph --db $(DB) report abstraction
	$(BIN)/evokegraph --db $(DB) eval associations sample/gold.jsonl
	@echo
	@echo "Open the explorer on it (then http://127.0.0.1:8000/ in a browser):"
	@echo "  $(BIN)/evokegraph --db $(DB) serve"

# The stage folders become evokegraph.* only when installed: the checks run on a
# real installed copy in build/lint; mypy's paths are mapped back to the repo files.
check: setup-dev
	$(BIN)/python tools/check_structure.py

test: check
	$(BIN)/python -m pytest -q

# The quick loop while developing (no setup, no structure check): slow and Ray tests
# are left to `make test`; test files are spread over two workers (pytest-xdist, whole
# files, so module fixtures are built once; the long ones handed out first and the
# Bolt server's users as one unit: tests/conftest.py).
test-fast:
	$(BIN)/python -m pytest -q -m "not slow and not ray" -n 2 --dist loadfile --no-loadscope-reorder

clean:
	rm -rf $(VENV) $(DB) $(DB).wal $(DB).thumbs sample build *.egg-info
