# One-word commands over the CMake build (CMakeLists.txt is the truth).
#   make            build the optimised library, tests and examples
#   make run        the project's main job (see README)
#   make test       the suite three times: optimised, ASan+UBSan, TSan
#   make asan|tsan|release-test   one of those
#   make fuzz       the calc protocol's libFuzzer target, FUZZ_SECONDS (30)
#   make stress     STRESS_TESTS rerun STRESS_RUNS (50) times in each of the
#                   three builds (default: channels, select and time)
#   make bench      benchmarks side by side with Go, with ratios
#   make valgrind   the suite under valgrind (annotated stack switches)
#   make soak       issue 19's attacks at full size on 127.0.0.1 (~10 min;
#                   `make test` runs them at CI size in the suite)
#   make format     clang-format the sources
BUILD ?= build
JOBS ?= 2
MAKEFLAGS += --no-print-directory
CMAKE_FLAGS ?=
TEST_ARGS ?=
FUZZ_SECONDS ?= 30
STRESS_RUNS ?= 50
STRESS_JOBS ?= 4
STRESS_TESTS ?= ^chan_ ^select_ ^time_
# How each build's suite runs (sanitized builds run scaled-down loops
# with longer time limits).
ASAN_RUN = GOC_TEST_TIMEOUT_SCALE=4 GOC_TEST_ITER_DIV=10 \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ./goc_tests
TSAN_RUN = GOC_TEST_TIMEOUT_SCALE=6 GOC_TEST_ITER_DIV=1000 \
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	setarch -R ./goc_tests

.PHONY: all deps run test release-test asan tsan fuzz stress bench valgrind soak format clean test-aarch64

all: deps
	cmake -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD)/release -j $(JOBS)

deps:
	@./tools/install-deps.sh

# goc-loadgen exits 1 when some call failed or timed out: that is a
# result worth reading in its report, not a failure of `make run`.
run: all
	@if [ -x $(BUILD)/release/tools/goc-loadgen ]; then \
		$(BUILD)/release/tools/goc-loadgen; rc=$$?; \
		[ $$rc -le 1 ] || exit $$rc; \
	else \
		$(BUILD)/release/prime_sieve; \
	fi

release-test: all
	cd $(BUILD)/release && ./goc_tests -j $(JOBS) $(TEST_ARGS)

asan: deps
	cmake -S . -B $(BUILD)/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGOC_SANITIZE=address >/dev/null
	cmake --build $(BUILD)/asan -j $(JOBS)
	cd $(BUILD)/asan && $(ASAN_RUN) -j $(JOBS) $(TEST_ARGS)

tsan: deps
	cmake -S . -B $(BUILD)/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGOC_SANITIZE=thread >/dev/null
	cmake --build $(BUILD)/tsan -j $(JOBS)
	cd $(BUILD)/tsan && $(TSAN_RUN) -j $(JOBS) $(TEST_ARGS)

# libFuzzer (clang) on the request/response parser and evaluator, from the
# committed corpus; new inputs go to a copy under the build folder.
fuzz: deps
	@./tools/install-deps.sh fuzz
	mkdir -p $(BUILD)/fuzz
	clang -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-Iinclude -Isrc tests/fuzz/fuzz_calc.c src/loadgen/calc_proto.c \
		-o $(BUILD)/fuzz/fuzz_calc
	rm -rf $(BUILD)/fuzz/corpus && cp -r tests/fuzz/corpus_calc $(BUILD)/fuzz/corpus
	$(BUILD)/fuzz/fuzz_calc -max_total_time=$(FUZZ_SECONDS) -timeout=5 \
		-print_final_stats=1 $(BUILD)/fuzz/corpus

# The stress loop: each build's selection must pass every rerun. Each
# build's full output goes to its stress.log; shown here: failures and the
# "N passed, N failed" line. The runner exits 1 on any failure.
stress: deps
	$(MAKE) all
	cmake -S . -B $(BUILD)/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGOC_SANITIZE=address >/dev/null
	cmake --build $(BUILD)/asan -j $(JOBS)
	cmake -S . -B $(BUILD)/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGOC_SANITIZE=thread >/dev/null
	cmake --build $(BUILD)/tsan -j $(JOBS)
	cd $(BUILD)/release && ./goc_tests -j $(STRESS_JOBS) -r $(STRESS_RUNS) $(STRESS_TESTS) \
		>stress.log; rc=$$?; grep -v '^ok ' stress.log | tail -n 40; exit $$rc
	cd $(BUILD)/asan && $(ASAN_RUN) -j $(STRESS_JOBS) -r $(STRESS_RUNS) $(STRESS_TESTS) \
		>stress.log; rc=$$?; grep -v '^ok ' stress.log | tail -n 40; exit $$rc
	cd $(BUILD)/tsan && $(TSAN_RUN) -j $(STRESS_JOBS) -r $(STRESS_RUNS) $(STRESS_TESTS) \
		>stress.log; rc=$$?; grep -v '^ok ' stress.log | tail -n 40; exit $$rc

test: release-test asan tsan fuzz
	@echo "make test: all three builds and the fuzz run passed"

bench: deps
	@./tools/install-deps.sh bench
	cmake -S . -B $(BUILD)/bench -DCMAKE_BUILD_TYPE=Release -DGOC_BENCH=ON >/dev/null
	cmake --build $(BUILD)/bench -j $(JOBS)
	./bench/run.sh $(BUILD)/bench

valgrind: deps
	cmake -S . -B $(BUILD)/valgrind -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGOC_VALGRIND=ON >/dev/null
	cmake --build $(BUILD)/valgrind -j $(JOBS)
	cd $(BUILD)/valgrind && GOC_TEST_TIMEOUT_SCALE=20 GOC_TEST_ITER_DIV=100 \
		GOC_TEST_SKIP_FILE=$(CURDIR)/tests/valgrind.skip \
		valgrind --error-exitcode=1 --quiet --leak-check=full \
		--errors-for-leak-kinds=definite ./goc_tests $(TEST_ARGS)

soak: all
	./tools/soak.sh $(BUILD)/release

# AArch64 under qemu-user (cross compiler + emulator from Debian). Tests
# that measure time or address-space limits do not apply under emulation.
test-aarch64:
	@dpkg-query -W gcc-aarch64-linux-gnu qemu-user >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		 gcc-aarch64-linux-gnu qemu-user libc6-dev-arm64-cross)
	cmake -S . -B $(BUILD)/aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build $(BUILD)/aarch64 -j $(JOBS) --target goc_tests
	cd $(BUILD)/aarch64 && GOC_TEST_ITER_DIV=100 GOC_TEST_TIMEOUT_SCALE=3 \
		qemu-aarch64 -L /usr/aarch64-linux-gnu ./goc_tests -j $(JOBS) \
		runtime_main runtime_yield runtime_regis runtime_park runtime_sleep \
		runtime_deadlock runtime_spawn_million runtime_no_false runtime_syscall \
		runtime_stack_overflow_is_fatal runtime_million chan_ select_ sync_

format:
	clang-format -i include/*.h include/goc/*.h src/*/*.c src/*/*.h tests/*.c tests/*.h examples/*.c

clean:
	rm -rf $(BUILD)
