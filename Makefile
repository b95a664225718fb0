# Entry points on a fresh Debian 12 machine: `make demo`, `make test`.
# BUILD selects the build directory; CMAKE_ARGS adds configure options.
BUILD ?= build
CMAKE_ARGS ?=
JOBS ?= $(shell nproc)

.PHONY: all setup build test test-python test-wheel test-aarch64 demo bench clean

all: build

setup:
	bash scripts/setup.sh

build: setup
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS)
	cmake --build $(BUILD) -j$(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j2
	$(MAKE) test-python
	$(MAKE) test-wheel

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

# The self-contained wheel: `pip wheel .`, `auditwheel repair` (pinned, in a
# tool venv under $(BUILD); Debian's patchelf) bundling oneTBB, cpuinfo, Gloo
# and their dependencies; then a fresh venv runs the README's quick start
# with the system copies hidden (scripts/test-wheel.sh; root, unshare -m).
test-wheel: setup
	bash scripts/setup.sh python3-venv python3-dev patchelf
	BUILD=$(BUILD) DATA=$(DATA) bash scripts/test-wheel.sh

# Cross-compiles for aarch64 (toolchains/aarch64-linux-gnu.cmake) into
# BUILD_AARCH64 and runs the kernel, dispatch and end-to-end tests under
# qemu-user on the NEON, SVE_256, SVE2_128 and SVE2 (512-bit) CPU models.
BUILD_AARCH64 ?= build-aarch64

test-aarch64:
	BUILD=$(BUILD_AARCH64) JOBS=$(JOBS) bash scripts/test-aarch64.sh

DATA ?= ../shared/data

# Trains the extreme-classification network on bibtex with its automatic
# settings (chosen on held-out training rows) and prints P@1/P@5; then the CSV text classifier on dbpedia14k (accuracy).
demo: build
	$(BUILD)/apps/frugal info | head -8
	$(BUILD)/apps/frugal train --train $(DATA)/bibtex/train.txt \
	  --test $(DATA)/bibtex/test.txt --exact-eval --model $(BUILD)/bibtex.model
	$(BUILD)/apps/frugal eval --model $(BUILD)/bibtex.model \
	  --test $(DATA)/bibtex/test.txt --exact
	$(BUILD)/apps/frugal text train --train $(DATA)/dbpedia14k/train.csv \
	  --test $(DATA)/dbpedia14k/test.csv --no-header --label-col 0 \
	  --text-col 1 --last-column-rest --model $(BUILD)/dbpedia.model
	echo "The Amazon flows through Brazil" | \
	  $(BUILD)/apps/frugal text predict --model $(BUILD)/dbpedia.model --no-target

bench: build
	@if [ -f bench/run.sh ]; then \
	  BUILD=$(BUILD) bash bench/run.sh; \
	else \
	  echo "bench/run.sh not present: nothing to run"; \
	fi

clean:
	rm -rf $(BUILD)

# Sanitizer builds, each in its own build directory (no benchmarks).
# test-asan: AddressSanitizer + UndefinedBehaviorSanitizer (and LeakSanitizer)
# over the whole suite; any finding fails the test (-fno-sanitize-recover).
# test-tsan: ThreadSanitizer over the concurrent code (trainer, LSH index,
# evaluation, save/load). oneTBB's own synchronization reaches TSan through
# an ITT collector (tests/sanitizers/tsan_itt.cc); tests/sanitizers/tsan.supp
# lists and explains every suppression.
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
SAN_CMAKE_ARGS = -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
  -DFRUGAL_BUILD_BENCH=OFF
ASAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all \
  -fno-omit-frame-pointer
TSAN_FLAGS = -fsanitize=thread -fno-omit-frame-pointer -DTBB_USE_PROFILING_TOOLS=2
TSAN_TESTS ?= Trainer\.|Fit\.|StreamingSource\.|NeuronIndex\.(Forced|Deterministic|Incremental|Schedule|Rejects)|ModelFile\.|Model\.|Classifier\.String
TSAN_TARGETS ?= nn_test fit_test lsh_test classifier_test tsan_itt

.PHONY: test-asan test-tsan

test-asan: setup
	cmake -S . -B $(ASAN_BUILD) $(SAN_CMAKE_ARGS) -DCMAKE_CXX_FLAGS="$(ASAN_FLAGS)"
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:verify_asan_link_order=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j2

test-tsan: setup
	cmake -S . -B $(TSAN_BUILD) $(SAN_CMAKE_ARGS) -DCMAKE_CXX_FLAGS="$(TSAN_FLAGS)"
	cmake --build $(TSAN_BUILD) -j$(JOBS) --target $(TSAN_TARGETS)
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/sanitizers/tsan.supp" \
	INTEL_LIBITTNOTIFY64=$(abspath $(TSAN_BUILD))/tests/libtsan_itt.so \
	INTEL_ITTNOTIFY_GROUPS=sync \
	  ctest --test-dir $(TSAN_BUILD) --output-on-failure -j2 -R '$(TSAN_TESTS)'

# libFuzzer targets (fuzz/), built with clang and ASan+UBSan in their own
# directory; clang and libclang-rt-14-dev are installed only for this.
# `make fuzz` runs each target for FUZZ_SECONDS from the seed corpora
# (fuzz_seeds: ../shared/data and saved models) plus what earlier runs kept
# in $(FUZZ_BUILD)/corpus; a crash stops it and leaves the input as
# $(FUZZ_BUILD)/crash-<target>-*.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 300
FUZZ_TARGETS ?= dataset csv model options
FUZZ_ARGS ?=
FUZZ_FLAGS = -fsanitize=fuzzer-no-link,address,undefined \
  -fno-sanitize-recover=all -fno-omit-frame-pointer \
  -fsanitize-coverage-ignorelist=$(CURDIR)/fuzz/coverage_ignore.txt

.PHONY: fuzz fuzz-build

fuzz-build:
	bash scripts/setup.sh clang libclang-rt-14-dev
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_CXX_COMPILER=clang++ \
	  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
	  -DCMAKE_CXX_FLAGS="$(FUZZ_FLAGS)" -DBUILD_SHARED_LIBS=OFF \
	  -DFRUGAL_BUILD_FUZZ=ON -DFRUGAL_BUILD_TESTS=OFF -DFRUGAL_BUILD_BENCH=OFF
	cmake --build $(FUZZ_BUILD) -j$(JOBS) \
	  --target $(addsuffix _fuzz,$(FUZZ_TARGETS)) fuzz_seeds
	$(FUZZ_BUILD)/fuzz/fuzz_seeds $(DATA) $(FUZZ_BUILD)/seeds

fuzz: fuzz-build
	set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	  $(FUZZ_BUILD)/fuzz/$${t}_fuzz -max_total_time=$(FUZZ_SECONDS) \
	    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_BUILD)/crash-$$t- $(FUZZ_ARGS) \
	    $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/seeds/$$t; \
	done

# The kill-during-checkpoint test at full length: 100 trials (the ctest
# version runs 20).
CRASH_TRIALS ?= 100
.PHONY: crash-test
crash-test: build
	FRUGAL_CRASH_TRIALS=$(CRASH_TRIALS) $(BUILD)/tests/crash_safety_test \
	  --gtest_filter='CrashSafety.KillDuringCheckpoint*'
