# Convenience entry points. The README's Quick start uses exactly `make demo` and `make test`.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
GENERATOR := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")

.PHONY: deps configure build demo test fuzz package walkthrough clean

deps:
	@if [ "$$(id -u)" -eq 0 ]; then scripts/install-deps; else sudo scripts/install-deps; fi

configure:
	@[ -f $(BUILD_DIR)/CMakeCache.txt ] || cmake -S . -B $(BUILD_DIR) $(GENERATOR) $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

demo: deps build
	GITSYNCD_BIN=$(BUILD_DIR)/daemon/gitsyncd scripts/demo

test: deps build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600
	scripts/fuzz $(FUZZ_SECONDS)
	scripts/check-package $(BUILD_DIR)
	scripts/check-walkthrough $(BUILD_DIR)

# docs/operations.md run as written (root): install the .deb, start the service, sync both ways.
walkthrough: deps build
	scripts/check-walkthrough $(BUILD_DIR)

# The .deb (CPack), installed (root) or unpacked, then run: --version and check-config.
package: deps build
	scripts/check-package $(BUILD_DIR)

# libFuzzer over the webhook parsers and verifier, the operator API and the config loader
# (clang, ASan+UBSan), bounded in time: FUZZ_SECONDS in total, shared between the targets.
FUZZ_SECONDS ?= 60
fuzz: deps
	scripts/fuzz $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD_DIR) build-fuzz
