# One-word commands over the CMake build (CMakeLists.txt is the truth).
#   make            build the optimised library, tests and examples
#   make run        the project's main job (see README)
#   make test       static checks, the suite three times (optimised,
#                   ASan+UBSan, TSan) on auto's poller (io_uring_completion
#                   where the kernel has it), each build's net, proc,
#                   signal, loadgen and http tests again on epoll alone
#                   and on the io_uring readiness poller (URING_TESTS),
#                   the HTML report in headless Chromium, the fuzz run,
#                   package-test
#   make check      module boundaries (tests/check_includes.sh) and
#                   clang-format --dry-run -Werror over FORMAT_FILES
#   make asan|tsan|release-test   one of those
#   make fuzz       the calc protocol's libFuzzer target, FUZZ_SECONDS (30)
#   make test-twice the optimised suite twice at once (a loaded machine):
#                   every bound in a test must hold there too
#   make stress     STRESS_TESTS rerun STRESS_RUNS (50) times in each of the
#                   STRESS_BUILDS (release asan tsan; default tests:
#                   channels, select and time) on auto's poller.
#                   GOC_POLLER=epoll, io_uring or io_uring_completion
#                   (environment or make's command line) runs them on
#                   that backend, e.g. the net tests (the io_uring ones,
#                   net_uring_*, included):
#                   make stress GOC_POLLER=epoll \
#                     STRESS_TESTS='^net_' STRESS_BUILDS=release STRESS_RUNS=10
#   make bench      benchmarks side by side with Go, with ratios
#   make valgrind   the suite under valgrind (annotated stack switches)
#   make soak       issue 19's attacks at full size on 127.0.0.1 (~10 min;
#                   `make test` runs them at CI size in the suite)
#   make format     clang-format the sources
#   make install    headers, libraries, tools into PREFIX (/usr/local);
#                   DESTDIR= stages; ldconfig when the loader searches it
#   make uninstall  remove what the last `make install` installed
#   make deb        Debian packages libgoc0, libgoc-dev, goc-tools (CPack)
#   make package-test  the install, pkg-config, CMake and .deb checks
BUILD ?= build
JOBS ?= 2
MAKEFLAGS += --no-print-directory
CMAKE_FLAGS ?=
TEST_ARGS ?=
FUZZ_SECONDS ?= 30
STRESS_RUNS ?= 50
STRESS_JOBS ?= 4
STRESS_TESTS ?= ^chan_ ^select_ ^time_
STRESS_BUILDS ?= release asan tsan
PREFIX ?= /usr/local
DESTDIR ?=
# How each build's suite runs (sanitized builds run scaled-down loops
# with longer time limits).
ASAN_RUN = GOC_TEST_TIMEOUT_SCALE=4 GOC_TEST_ITER_DIV=10 \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ./goc_tests
TSAN_RUN = GOC_TEST_TIMEOUT_SCALE=6 GOC_TEST_ITER_DIV=1000 \
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	setarch -R ./goc_tests

# The suites that run again on the other poller backends: the first
# run is on auto's pick (io_uring_completion where the kernel has it,
# else epoll), the second on epoll alone, the third on io_uring's
# readiness poller, skipped with a line saying so where the kernel
# offers no io_uring. Empty: no second or third run.
URING_TESTS ?= ^net_ ^proc_ ^signal_ ^loadgen_ ^http_
uring_run = $(if $(URING_TESTS),echo "the epoll run: $(URING_TESTS)"; \
	GOC_POLLER=epoll $(1) -j $(JOBS) $(URING_TESTS) && \
	if out=$$(GOC_POLLER=io_uring $(1) net_poller_as_asked 2>&1) || \
	! echo "$$out" | grep -q "io_uring is not available"; \
	then echo "the io_uring run: $(URING_TESTS)"; \
	GOC_POLLER=io_uring $(1) -j $(JOBS) $(URING_TESTS); \
	else echo "io_uring is not available here: the io_uring run is skipped"; fi)

# A build prints nothing unless it fails; then the end of its log (the
# whole log stays in the build folder's build.log).
build_quiet = cmake --build $(1) -j $(JOBS) >$(1)/build.log 2>&1 || \
	{ tail -n 60 $(1)/build.log; echo "build failed: see $(1)/build.log"; exit 1; }

# Files clang-format checks (FORMAT_SKIP: any to leave out, none now).
FORMAT_SKIP ?=
FORMAT_FILES = $(filter-out $(FORMAT_SKIP),$(wildcard include/*.h \
	include/goc/*.h src/*/*.c src/*/*.h tests/*.c tests/*.h examples/*.c))

.PHONY: all deps run check test test-twice release-test browser-test mpi-test asan tsan fuzz stress bench valgrind soak format clean test-aarch64 \
	install uninstall deb package-test

all: deps
	@cmake -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@echo "building $(BUILD)/release"; $(call build_quiet,$(BUILD)/release)

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
	cd $(BUILD)/release && $(call uring_run,./goc_tests)

# goc-loadgen's HTML report in headless Chromium (installed here), with
# screenshots left in $(BUILD)/release/report-browser/; the test says it
# skipped where Chromium cannot be installed.
browser-test: all
	@./tools/install-deps.sh browser || echo "browser-test: Chromium cannot be installed: skipping"
	cd $(BUILD)/release && GOC_TEST_BROWSER=1 ./goc_tests report_browser

# goc-loadgen across 3 Open MPI ranks on 127.0.0.1 (docs/mpi.md): installs
# Open MPI, reconfigures so that goc-loadgen is built with it, runs the
# loadgen_mpi_* tests; they say SKIPPED where Open MPI cannot be installed.
mpi-test: all
	@./tools/install-deps.sh mpi || echo "mpi-test: Open MPI cannot be installed: skipping"
	@cmake -S . -B $(BUILD)/release >/dev/null; $(call build_quiet,$(BUILD)/release)
	cd $(BUILD)/release && GOC_TEST_MPI=1 ./goc_tests '^loadgen_mpi_'

asan: deps
	cmake -S . -B $(BUILD)/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGOC_SANITIZE=address >/dev/null
	@echo "building $(BUILD)/asan"; $(call build_quiet,$(BUILD)/asan)
	cd $(BUILD)/asan && $(ASAN_RUN) -j $(JOBS) $(TEST_ARGS)
	cd $(BUILD)/asan && $(call uring_run,$(ASAN_RUN))

tsan: deps
	cmake -S . -B $(BUILD)/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGOC_SANITIZE=thread >/dev/null
	@echo "building $(BUILD)/tsan"; $(call build_quiet,$(BUILD)/tsan)
	cd $(BUILD)/tsan && $(TSAN_RUN) -j $(JOBS) $(TEST_ARGS)
	cd $(BUILD)/tsan && $(call uring_run,$(TSAN_RUN))

# libFuzzer (clang) on the request/response parser and evaluator, from the
# committed corpus; new inputs go to a copy under the build folder.
fuzz: deps
	@./tools/install-deps.sh fuzz
	mkdir -p $(BUILD)/fuzz
	clang -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-Iinclude -Isrc tests/fuzz/fuzz_calc.c src/calc/calc_proto.c \
		-o $(BUILD)/fuzz/fuzz_calc
	rm -rf $(BUILD)/fuzz/corpus && cp -r tests/fuzz/corpus_calc $(BUILD)/fuzz/corpus
	$(BUILD)/fuzz/fuzz_calc -max_total_time=$(FUZZ_SECONDS) -timeout=5 \
		-print_final_stats=1 $(BUILD)/fuzz/corpus

# The stress loop: each build's selection must pass every rerun. Each
# build's full output goes to its stress.log; shown here: failures and the
# "N passed, N failed" line. The runner exits 1 on any failure.
stress: deps
	$(MAKE) all
	$(if $(filter asan,$(STRESS_BUILDS)),cmake -S . -B $(BUILD)/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGOC_SANITIZE=address >/dev/null)
	$(if $(filter asan,$(STRESS_BUILDS)),cmake --build $(BUILD)/asan -j $(JOBS))
	$(if $(filter tsan,$(STRESS_BUILDS)),cmake -S . -B $(BUILD)/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGOC_SANITIZE=thread >/dev/null)
	$(if $(filter tsan,$(STRESS_BUILDS)),cmake --build $(BUILD)/tsan -j $(JOBS))
	@echo "stress: $(STRESS_TESTS) x $(STRESS_RUNS) in $(STRESS_BUILDS), poller $${GOC_POLLER:-auto}"
	$(if $(filter release,$(STRESS_BUILDS)),cd $(BUILD)/release && ./goc_tests -j $(STRESS_JOBS) -r $(STRESS_RUNS) $(STRESS_TESTS) \
		>stress.log; rc=$$?; grep -v '^ok ' stress.log | tail -n 40; exit $$rc)
	$(if $(filter asan,$(STRESS_BUILDS)),cd $(BUILD)/asan && $(ASAN_RUN) -j $(STRESS_JOBS) -r $(STRESS_RUNS) $(STRESS_TESTS) \
		>stress.log; rc=$$?; grep -v '^ok ' stress.log | tail -n 40; exit $$rc)
	$(if $(filter tsan,$(STRESS_BUILDS)),cd $(BUILD)/tsan && $(TSAN_RUN) -j $(STRESS_JOBS) -r $(STRESS_RUNS) $(STRESS_TESTS) \
		>stress.log; rc=$$?; grep -v '^ok ' stress.log | tail -n 40; exit $$rc)

# Two optimised suites side by side, as when two CI jobs share a 2-core
# machine. Each run's full output goes to twice-N.log; shown: failures and
# both "N passed, N failed" lines. Fails if either run failed.
test-twice: all
	cd $(BUILD)/release && \
	{ ./goc_tests -j $(JOBS) $(TEST_ARGS) >twice-1.log 2>&1 & pid=$$!; \
	  ./goc_tests -j $(JOBS) $(TEST_ARGS) >twice-2.log 2>&1; rc2=$$?; \
	  wait $$pid; rc1=$$?; \
	  grep -hv '^ok ' twice-1.log twice-2.log | tail -n 40; \
	  [ $$rc1 -eq 0 ] && [ $$rc2 -eq 0 ]; }

check: deps
	@tests/check_includes.sh
	@clang-format --dry-run -Werror $(FORMAT_FILES) && echo "clang-format: clean"

test: check release-test browser-test mpi-test asan tsan fuzz package-test
	@echo "make test: the checks, all three builds, the browser and MPI tests, the fuzz run and the package checks passed"

# Installing (docs/install.md). The manifest of the last install lists
# what uninstall removes.
install: all
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD)/release --prefix "$(PREFIX)"

uninstall:
	DESTDIR="$(DESTDIR)" cmake -DGOC_MANIFEST=$(BUILD)/release/install_manifest.txt \
		-P cmake/uninstall.cmake

# The .debs land in $(BUILD)/deb; built with prefix /usr, without the
# tests and examples.
deb: deps
	@./tools/install-deps.sh package
	cmake -S . -B $(BUILD)/deb -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
		-DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD)/deb -j $(JOBS) --target goc_installables
	rm -f $(BUILD)/deb/*.deb
	cd $(BUILD)/deb && cpack -G DEB >cpack.log || (cat cpack.log; exit 1)
	@ls $(BUILD)/deb/*.deb

# The exported symbols, the install with pkg-config, CMake and
# FetchContent, and the Debian packages (only as root, where dpkg is).
package-test: all
	@./tools/install-deps.sh package
	./tests/package/check_symbols.sh $(BUILD)/release/libgoc.so
	./tests/package/install_test.sh $(BUILD)
	./tests/package/deb_test.sh $(BUILD)

bench: deps
	@./tools/install-deps.sh bench
	cmake -S . -B $(BUILD)/bench -DCMAKE_BUILD_TYPE=Release -DGOC_BENCH=ON >/dev/null
	cmake --build $(BUILD)/bench -j $(JOBS)
	./bench/run.sh $(BUILD)/bench
	./bench/net_baselines.sh $(BUILD)/bench
	./bench/loadgen/run.sh $(BUILD)/bench

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
