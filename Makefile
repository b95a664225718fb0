# Entry points on a fresh Debian 12 machine: `make demo`, `make test`.
# BUILD selects the build directory; CMAKE_ARGS adds configure options.
BUILD ?= build
CMAKE_ARGS ?=
JOBS ?= $(shell nproc)

.PHONY: all setup build test demo bench clean

all: build

setup:
	bash scripts/setup.sh

build: setup
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS)
	cmake --build $(BUILD) -j$(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j2

demo: build
	$(BUILD)/apps/frugal info
	@if [ -x $(BUILD)/bench/frugal_bench ]; then \
	  echo; \
	  $(BUILD)/bench/frugal_bench --benchmark_filter='Dot/.*/(128|1024)$$' \
	    --benchmark_min_time=0.05; \
	else \
	  echo "($(BUILD)/bench/frugal_bench not built: no benchmarks to show)"; \
	fi

bench: build
	@if [ -f bench/run.sh ]; then \
	  BUILD=$(BUILD) bash bench/run.sh; \
	else \
	  echo "bench/run.sh not present: nothing to run"; \
	fi

clean:
	rm -rf $(BUILD)
