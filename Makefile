# Entry points on a fresh Debian 12 machine: `make demo`, `make test`.
# BUILD selects the build directory; CMAKE_ARGS adds configure options.
BUILD ?= build
CMAKE_ARGS ?=
JOBS ?= $(shell nproc)

.PHONY: all setup build test test-python demo bench clean

all: build

setup:
	bash scripts/setup.sh

build: setup
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS)
	cmake --build $(BUILD) -j$(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j2
	$(MAKE) test-python

# The Python package: a virtual environment in $(PYENV), `pip install .`
# (scikit-build-core and pybind11 from PyPI build the extension against the
# Debian packages), then pytest.
PYENV ?= $(BUILD)/pyenv
test-python: setup
	bash scripts/setup.sh python3-venv python3-dev
	test -x $(PYENV)/bin/python || python3 -m venv $(PYENV)
	$(PYENV)/bin/python -m pip install -q --upgrade pip
	$(PYENV)/bin/python -m pip install -q '.[test,ray]'
	$(PYENV)/bin/python -m pytest -q python/tests

DATA ?= ../shared/data

# Trains the extreme-classification network on bibtex and prints P@1/P@5
# and throughput.
demo: build
	$(BUILD)/apps/frugal info | head -8
	$(BUILD)/apps/frugal train --train $(DATA)/bibtex/train.txt \
	  --test $(DATA)/bibtex/test.txt --hidden 512 --epochs 20 --batch 64 \
	  --exact-eval --model $(BUILD)/bibtex.model
	$(BUILD)/apps/frugal eval --model $(BUILD)/bibtex.model \
	  --test $(DATA)/bibtex/test.txt --exact

bench: build
	@if [ -f bench/run.sh ]; then \
	  BUILD=$(BUILD) bash bench/run.sh; \
	else \
	  echo "bench/run.sh not present: nothing to run"; \
	fi

clean:
	rm -rf $(BUILD)
