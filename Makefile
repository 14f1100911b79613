# Thin wrapper over CMake. The two set-up commands on a fresh Debian 12
# machine are `make run` and `make test`; both install what they need.

BUILD      ?= build
ASAN_BUILD ?= build-asan
VG_BUILD   ?= build-valgrind
FUZZ_BUILD ?= build-fuzz
JOBS       ?= 2

.PHONY: all deps build run test test-fast test-asan test-valgrind test-fuzz bench clean

all: build

deps:
	@./scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# Starts jobmatchd in the foreground with demo data (loaded on first start).
run: build
	./scripts/run.sh $(BUILD)

# Every test: on the optimised build, under ASan+UBSan, under valgrind, and
# the fuzz harnesses (corpus replay plus a short run).
test: test-fast test-asan test-valgrind test-fuzz

test-fast: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DJM_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

test-valgrind: deps
	cmake -S . -B $(VG_BUILD) -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build $(VG_BUILD) -j $(JOBS)
	./scripts/valgrind-tests.sh $(VG_BUILD)

# libFuzzer needs clang; the harnesses replay their seed corpora, then fuzz
# for JM_FUZZ_SECONDS each (docs/fuzzing.md).
test-fuzz: deps
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DJM_FUZZ=ON -DJM_TESTS=OFF >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	ctest --test-dir $(FUZZ_BUILD) --output-on-failure

bench: build
	./bench/run

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(VG_BUILD) $(FUZZ_BUILD)
