# Thin wrapper over CMake. The two set-up commands on a fresh Debian 12
# machine are `make run` and `make test`; both install what they need.

BUILD      ?= build
ASAN_BUILD ?= build-asan
VG_BUILD   ?= build-valgrind
FUZZ_BUILD ?= build-fuzz
JOBS       ?= 2

.PHONY: all deps build run kiosk test test-fast test-browser test-asan test-valgrind test-fuzz bench clean

all: build

deps:
	@./scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# Starts jobmatchd in the foreground with demo data (loaded on first start).
run: build
	./scripts/run.sh $(BUILD)

# Starts jobmatch-kiosk in the foreground beside the daemon of `make run`
# (run it in a second terminal); the page is at http://127.0.0.1:8080/.
kiosk: build
	$(BUILD)/jobmatch-kiosk --daemon $${JOBMATCH_LISTEN:-127.0.0.1:7411}

# Every test: on the optimised build, the kiosk in headless Chromium, under
# ASan+UBSan, under valgrind, and the fuzz harnesses (corpus replay plus a
# short run).
test: test-fast test-browser test-asan test-valgrind test-fuzz

test-fast: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# The kiosk page used as a job seeker would, in Debian's chromium driven by
# playwright-core (pinned with its checksum in tests/browser/package-lock.json;
# a version that runs on Debian 12's node 18; taken from npm's cache when
# there, from the registry otherwise).
test-browser: build
	cd tests/browser && npm ci --prefer-offline --no-audit --no-fund --loglevel=error
	timeout 300 node tests/browser/kiosk.test.mjs $(BUILD)

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DJM_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

test-valgrind: deps
	cmake -S . -B $(VG_BUILD) -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build $(VG_BUILD) -j $(JOBS)
	./scripts/valgrind-tests.sh $(VG_BUILD) $(JOBS)

# libFuzzer needs clang; the harnesses replay their seed corpora, then fuzz
# for JM_FUZZ_SECONDS each (docs/fuzzing.md).
test-fuzz: deps
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DJM_FUZZ=ON -DJM_TESTS=OFF >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	ctest --test-dir $(FUZZ_BUILD) --output-on-failure -j $(JOBS)

bench: build
	./bench/run

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(VG_BUILD) $(FUZZ_BUILD)
