# Thin wrapper: the two Quickstart commands, plus the usual targets.
#   make demo   install dependencies, build, run the main job
#   make test   install dependencies, build, run the whole test suite
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: deps configure build demo test test-unit test-slow bench clean

deps:
	bash scripts/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	bash scripts/demo.sh $(BUILD)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

test-slow: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L slow

bench: build
	$(BUILD)/apps/diffuse bench samplers

clean:
	rm -rf $(BUILD)
