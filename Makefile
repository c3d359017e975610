# Whittle developer commands. Each target installs what it needs first (Debian/Ubuntu).
#   make example               inspect the bundled example model, compile it to C, build and run that C on its input
#   make test                  run all tests (unit, zoo, ONNX node-test conformance)
#   make bench                 emitted C vs ONNX Runtime on the host (prints a table)
#   make fuzz [FUZZ_TIME=60|FUZZ_RUNS=N]  libFuzzer with ASan on the ONNX loader, .npy/.npz and target readers
#   make fuzz-models [N=1000] [SEED=0]  differential testing on generated models (interpreter, ONNX Runtime, C)
#   make conformance-manifest  re-record Tests/Conformance/{expected_passes,excluded}.txt
#   make install [PREFIX=/usr/local]  build in release mode and install bin/whittle (targets built in)
#   make wheel                 the Python package with the release binary, as dist/whittle-VERSION-py3-none-linux_ARCH.whl
#   make docs                  rewrite docs/cli.md from the tool's help
#   make analyse               gcc -fanalyzer and clang --analyze on the same C (Tests/StaticAnalysis)
#   make misra                 MISRA C:2012 check (cppcheck) of the emitted C of every example model for host,
#                              cortex-m0plus, cortex-m4f and rpi4, and of the kernel library (Tests/MISRA)
SWIFT ?= swift
EXAMPLE ?= Examples/models/kws_dscnn.onnx
EXAMPLE_INPUT ?= Examples/kws_dscnn_input.npy
PYTHON ?= python3
VENV := .venv
NODE_TESTS := .build-conformance/node
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

PREFIX ?= /usr/local

.PHONY: setup build example test bench misra analyse conformance-data conformance-manifest install install-check wheel clean fuzz-models fuzz docs

# System packages: protobuf-c and zlib with headers (found through pkg-config), the cross
# compilers the emitted C is built with, and QEMU to run it (Cortex-M and Raspberry Pi).
# The tests also build the CMake snippet and render the HTML report in a headless browser.
PACKAGES := libprotobuf-c-dev zlib1g-dev pkg-config cppcheck gcc-arm-none-eabi libnewlib-arm-none-eabi \
	qemu-system-arm qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf libc6-dev-armhf-cross \
	gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-system-misc
TOOLS := cppcheck arm-none-eabi-gcc qemu-system-arm qemu-aarch64 qemu-arm aarch64-linux-gnu-gcc arm-linux-gnueabihf-gcc \
	riscv64-unknown-elf-gcc qemu-system-riscv32
ifneq ($(filter test,$(MAKECMDGOALS)),)
PACKAGES += cmake chromium
TOOLS += cmake chromium
endif

setup:
	@missing=0; pkg-config --exists libprotobuf-c zlib 2>/dev/null || missing=1; \
	for tool in $(TOOLS); do command -v $$tool >/dev/null || missing=1; done; \
	if [ $$missing = 1 ]; then \
		echo "installing $(PACKAGES)"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(PACKAGES); \
	fi

build: setup
	$(SWIFT) build

# Inspect the example (a table of its layers), compile it to C, build that with a small host program, and
# run it on the bundled input (it prints the 12 class probabilities ONNX Runtime gives).
example: build
	$(SWIFT) run --skip-build whittle inspect $(EXAMPLE)
	$(SWIFT) run --skip-build whittle compile $(EXAMPLE) --name model -o .build/example/c
	$(CC) -std=c99 -O2 -Wall -Wextra -Werror -pedantic -I.build/example/c Examples/host/main.c \
		.build/example/c/model.c .build/example/c/model_weights.c -lm -o .build/example/run_model
	.build/example/run_model $(EXAMPLE_INPUT)

# Python makes the test data (ONNX node tests, ONNX Runtime models and outputs): every package is
# pinned in Tests/requirements.txt, and the venv is brought back to it whenever that file changes.
PYREQ := $(VENV)/.requirements
$(PYREQ): Tests/requirements.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -r Tests/requirements.txt
	cp Tests/requirements.txt $(PYREQ)

$(NODE_TESTS)/VERSION: $(PYREQ) Tests/Conformance/generate_node_tests.py
	$(VENV)/bin/python Tests/Conformance/generate_node_tests.py $(NODE_TESTS)

conformance-data: $(NODE_TESTS)/VERSION

# After the unit tests: the installed binary's link (install-check), the MISRA check and the static analysers on a
# subset (make misra and make analyse check every model, target and kernel), the kept differential cases, then 200 generated
# models (a fixed seed, so a run is repeatable; make fuzz-models explores further), then a short libFuzzer smoke per target.
test: setup conformance-data
	$(SWIFT) build --build-tests
	WHITTLE_REQUIRE_CONFORMANCE=1 WHITTLE_REQUIRE_TOOLS=1 $(SWIFT) test --skip-build
	$(MAKE) --no-print-directory install-check
	rm -rf .build-static/dist
	$(PYTHON) Sources/WhittlePython/build_wheel.py --binary .build-static/debug/whittle --out .build-static/dist
	$(PYTHON) Tests/Python/wheel_test.py '.build-static/dist/whittle-*.whl'
	$(PYTHON) Tests/MISRA/misra_check.py --whittle .build/debug/whittle --models kws_dscnn_int8_qdq,ic_resnet8 --targets cortex-m4f,rpi4
	$(PYTHON) Tests/StaticAnalysis/analyse.py --whittle .build/debug/whittle --models kws_dscnn_int8_qdq,ic_resnet8 --targets cortex-m4f --no-kernels
	$(VENV)/bin/python Tests/Differential/fuzz_models.py --whittle .build/debug/whittle --replay Tests/Differential/cases
	$(VENV)/bin/python Tests/Differential/fuzz_models.py --whittle .build/debug/whittle --count 200 --seed 0 --qemu-every 20
	$(MAKE) --no-print-directory fuzz FUZZ_TIME=10

# libFuzzer on the fuzz targets (Sources/whittle-fuzz): an address-sanitized, coverage-instrumented
# build in .build-fuzz, then FUZZ_TIME seconds per target (or FUZZ_RUNS inputs) by Tests/Fuzz/fuzz.sh.
FUZZ_TIME ?= 60
FUZZ_LIMIT = $(if $(FUZZ_RUNS),-runs=$(FUZZ_RUNS),-max_total_time=$(FUZZ_TIME))
fuzz: setup
	@mkdir -p .build-fuzz
	@$(SWIFT) build --build-path .build-fuzz --product whittle-fuzz -Xswiftc -sanitize=address \
		-Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp -Xswiftc -DWHITTLE_LIBFUZZER \
		-Xcc -fsanitize=address,fuzzer-no-link -Xlinker -lstdc++ \
		-Xlinker $$(ls $$(dirname $$(readlink -f $$(command -v $(SWIFT))))/../lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-$$(uname -m).a | head -1) \
		> .build-fuzz/build.log 2>&1 || (tail -30 .build-fuzz/build.log; exit 1)
	Tests/Fuzz/fuzz.sh $(FUZZ_LIMIT)

# Differential testing on N generated models from SEED; failing models, shrunk, go to .build/fuzz-models.
N ?= 1000
SEED ?= 0
fuzz-models: setup $(PYREQ)
	$(SWIFT) build
	$(VENV)/bin/python Tests/Differential/fuzz_models.py --whittle .build/debug/whittle --count $(N) --seed $(SEED) \
		--qemu-every 50 --keep .build/fuzz-models

bench: setup $(PYREQ)
	$(VENV)/bin/pip install -q -r Tests/Benchmarks/requirements.txt
	$(SWIFT) build -c release
	$(VENV)/bin/python Tests/Benchmarks/bench.py

# MISRA C:2012 with cppcheck's addon: the rule categories and the deviations are in Tests/MISRA.
misra: build
	$(PYTHON) Tests/MISRA/misra_check.py --whittle .build/debug/whittle

# The static analysers; reports explained rather than fixed are in Tests/StaticAnalysis/explained.txt.
analyse: build
	$(PYTHON) Tests/StaticAnalysis/analyse.py --whittle .build/debug/whittle

# docs/cli.md is the tool's help text: rewritten here, compared by a test.
docs: build
	$(SWIFT) build --build-tests
	RECORD_GOLDEN=1 $(SWIFT) test --skip-build --filter DocumentationTests/cliReferenceIsTheToolsHelp

conformance-manifest: setup conformance-data
	$(SWIFT) build --build-tests
	-WHITTLE_CONFORMANCE_REPORT=.build-conformance/report $(SWIFT) test --skip-build --filter "ConformanceTests|CConformanceTests"
	$(VENV)/bin/python Tests/Conformance/update_manifest.py .build-conformance/report

# The binary carries the target descriptions and board support (compiled in from Targets/ by the
# EmbedFiles build-tool plugin), so it works from any folder.
# The Swift runtime and Foundation are linked in (STATIC), so the installed binary starts on a machine
# without the Swift toolchain; protobuf-c and zlib stay the system's shared libraries.
STATIC := --static-swift-stdlib
install: setup
	$(SWIFT) build -c release $(STATIC)
	install -d $(PREFIX)/bin
	install -s -m 755 .build/release/whittle $(PREFIX)/bin/whittle

# What make install gives, checked where no Swift toolchain can be found: the same link (debug, to keep
# the test run short) into .build-static, run with the toolchain's folders hidden.
install-check: setup
	@mkdir -p .build-static
	$(SWIFT) build --product whittle $(STATIC) --scratch-path .build-static > .build-static/build.log 2>&1 || (tail -30 .build-static/build.log; exit 1)
	Tests/Install/check_static.sh .build-static/debug/whittle

# The wheel: Sources/WhittlePython's module with the release binary linked as make install links it
# (make test packs and tests the same layout around the debug build install-check links).
wheel: setup
	$(SWIFT) build -c release $(STATIC) --product whittle
	$(PYTHON) Sources/WhittlePython/build_wheel.py --binary .build/release/whittle --out dist

clean:
	rm -rf .build .build-conformance .build-fuzz .build-static dist
