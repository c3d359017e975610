# Whittle developer commands. Each target installs what it needs first (Debian/Ubuntu).
#   make example               inspect the bundled example model and run it with the reference interpreter
#   make test                  run all tests (unit, zoo, ONNX node-test conformance)
#   make conformance-manifest  re-record Tests/Conformance/{expected_passes,excluded}.txt
SWIFT ?= swift
EXAMPLE ?= Examples/models/kws_dscnn.onnx
EXAMPLE_INPUTS ?= Examples/kws_dscnn_input.npz
PYTHON ?= python3
VENV := .venv
NODE_TESTS := .build-conformance/node
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup build example test conformance-data conformance-manifest clean

# System packages: protobuf-c and zlib with headers, found through pkg-config.
setup:
	@if ! pkg-config --exists libprotobuf-c zlib 2>/dev/null; then \
		echo "installing libprotobuf-c-dev, zlib1g-dev and pkg-config"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			libprotobuf-c-dev zlib1g-dev pkg-config; \
	fi

build: setup
	$(SWIFT) build

example: build
	$(SWIFT) run --skip-build whittle inspect $(EXAMPLE)
	$(SWIFT) run --skip-build whittle run $(EXAMPLE) --inputs $(EXAMPLE_INPUTS) -o .build/example-output

# Python is only needed to generate the ONNX node tests (pinned onnx package).
$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -r Tests/requirements.txt

$(NODE_TESTS)/VERSION: $(VENV)/bin/python Tests/Conformance/generate_node_tests.py Tests/requirements.txt
	$(VENV)/bin/python Tests/Conformance/generate_node_tests.py $(NODE_TESTS)

conformance-data: $(NODE_TESTS)/VERSION

test: setup conformance-data
	$(SWIFT) build --build-tests
	WHITTLE_REQUIRE_CONFORMANCE=1 $(SWIFT) test --skip-build

conformance-manifest: setup conformance-data
	$(SWIFT) build --build-tests
	WHITTLE_CONFORMANCE_REPORT=.build-conformance/report $(SWIFT) test --skip-build --filter ConformanceTests
	$(VENV)/bin/python Tests/Conformance/update_manifest.py .build-conformance/report

clean:
	rm -rf .build .build-conformance
