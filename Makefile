# Whittle developer commands. Each target installs what it needs first (Debian/Ubuntu).
#   make example   inspect the bundled example model
#   make test      run all tests
SWIFT ?= swift
EXAMPLE ?= Examples/models/kws_dscnn.onnx
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup build example test clean

# System packages: protobuf-c's runtime library and headers, found through pkg-config.
setup:
	@if ! pkg-config --exists libprotobuf-c 2>/dev/null; then \
		echo "installing libprotobuf-c-dev and pkg-config"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends libprotobuf-c-dev pkg-config; \
	fi

build: setup
	$(SWIFT) build

example: build
	$(SWIFT) run --skip-build whittle inspect $(EXAMPLE)

test: setup
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

clean:
	rm -rf .build
