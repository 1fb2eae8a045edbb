# bertlite - the user's entry point. `make test` on a fresh machine installs what is missing
# (scripts/setup.sh), builds, and runs every test: CTest in a release build, CTest again in an
# AddressSanitizer + UndefinedBehaviorSanitizer build, then pytest.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
CMAKE_GEN  := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
PYTHON     := .venv/bin/python
FUZZ_SECONDS ?= 60


.PHONY: all setup setup-guide build build-cli guide test test-cpp test-asan test-python bench bench-encoder bench-guide bench-finetune bench-requirements fuzz format clean

all: build

# Set-up by need (scripts/setup.sh): the guide needs only the build tools, the libraries and the
# default model; the tests and benchmarks add GoogleTest, clang, Chromium and the .venv.
setup:
	bash scripts/setup.sh test

setup-guide:
	bash scripts/setup.sh guide

# A new build folder starts without tests and benchmarks (what `make guide` needs); `make build`
# turns them on.
$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release \
	  -DBERTLITE_BUILD_TESTS=OFF -DBERTLITE_BUILD_BENCH=OFF

build: setup $(BUILD)/CMakeCache.txt
	cmake -S . -B $(BUILD) -DBERTLITE_BUILD_TESTS=ON -DBERTLITE_BUILD_BENCH=ON
	cmake --build $(BUILD) -j $(JOBS)

# The library and the `bertlite` command alone.
build-cli: setup-guide $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target bertlite

# The README's first command: the "first BERT" walkthrough on the bundled SST-2 and the default
# model, writing report.html. Features are cached in .cache/bertlite, so a second run is quick.
# `make guide GUIDE_ARGS=--finetune` adds the walkthrough's next step, the whole model
# fine-tuned on the same sentences (step 9, a few minutes more on 2 cores).
GUIDE_ARGS ?=
guide: build-cli
	BERTLITE_CACHE=$(abspath .cache/bertlite) $(BUILD)/cli/bertlite guide --report report.html \
	  $(GUIDE_ARGS)

test: build test-cpp test-asan test-python

test-cpp:
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Any sanitizer report aborts the test that triggered it, so it fails the run.
test-asan: setup
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DBERTLITE_SANITIZE=ON -DBERTLITE_BUILD_BENCH=OFF
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ctest --output-on-failure -j $(JOBS)

test-python: build
	BERTLITE_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q tests/python

bench: build
	$(PYTHON) bench/tokenizer/bench_tokenizer.py --bertlite $(BUILD)/bench/bench_tokenizer

# The encoder benchmark (bench/encoder/README.md): bertlite fp32/bf16/int8 next to PyTorch,
# ONNX Runtime and CTranslate2 in the same precisions, on SST-2 and 128-token batch-1 latency,
# with MiniLM and a DistilBERT-base-shaped random checkpoint that tools/make_reference_model.py
# writes once. Its extra Python packages (bench/requirements.txt) are installed into .venv when
# that file changes; its constraints keep pip off torch.
# Options through BENCH_ARGS, e.g. make bench-encoder BENCH_ARGS=--quick
REFERENCE_DISTILBERT := .cache/reference/distilbert-base
BENCH_ARGS ?=

# bertlite guide against the same steps in transformers + scikit-learn, side by side.
bench-guide: build
	$(PYTHON) bench/guide/bench_guide.py --bertlite $(BUILD)/cli/bertlite

# The peers' packages (bench/requirements.txt), once. requirements.txt is passed as constraints
# so pip keeps its torch, numpy and transformers; pip refuses extras in a constraints file
# (ray[data]), so they are stripped into .venv/bench-constraints.txt first.
bench-requirements: setup
	cmp -s bench/requirements.txt .venv/.bench-requirements-installed || { \
	  sed 's/\[[^]]*\]//' requirements.txt > .venv/bench-constraints.txt && \
	  .venv/bin/pip install -q --disable-pip-version-check -c .venv/bench-constraints.txt \
	    -r bench/requirements.txt && \
	  cp bench/requirements.txt .venv/.bench-requirements-installed; }

# bertlite finetune against transformers' Trainer and a careful PyTorch loop (bench/finetune/
# README.md); Trainer needs accelerate, from bench/requirements.txt. Options through BENCH_ARGS,
# e.g. make bench-finetune BENCH_ARGS=--quick
bench-finetune: build bench-requirements
	$(PYTHON) bench/finetune/bench_finetune.py --bertlite $(BUILD)/cli/bertlite \
	  --gemm-tool $(BUILD)/bench/bench_gemm_limit $(BENCH_ARGS)

bench-encoder: setup $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target bench_encoder
	$(PYTHON) tools/make_reference_model.py $(REFERENCE_DISTILBERT) --shape distilbert-base
	$(MAKE) bench-requirements
	$(PYTHON) bench/encoder/bench_encoder.py --bertlite $(BUILD)/bench/bench_encoder $(BENCH_ARGS)

# clang with GCC's OpenMP runtime (libgomp, which oneDNN uses too): Debian's clang has no
# OpenMP runtime of its own unless libomp-dev is installed.
fuzz: setup
	cmake -S . -B $(FUZZ_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=clang++ -DBERTLITE_BUILD_FUZZERS=ON -DBERTLITE_BUILD_TESTS=OFF \
	  -DBERTLITE_BUILD_BENCH=OFF -DOpenMP_CXX_FLAGS=-fopenmp=libgomp -DOpenMP_CXX_LIB_NAMES=gomp \
	  -DOpenMP_gomp_LIBRARY=$$(g++ -print-file-name=libgomp.so)
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers
	bash fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
