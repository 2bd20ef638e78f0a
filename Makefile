# hearth: thin wrapper around Meson/Ninja. See README.md.
BUILD ?= build
MESON ?= meson

.PHONY: all deps build test demo bench bench-thesis fuzz clean format

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/build.ninja: | deps
	$(MESON) setup $(BUILD) >/dev/null

build: deps $(BUILD)/build.ninja
	@ninja -C $(BUILD)

test: build
	@./scripts/run-tests.sh $(BUILD)

demo: build
	@./scripts/demo.sh $(BUILD)

bench: build
	@./scripts/testhost.sh ./scripts/bench.sh $(BUILD)

bench-thesis: build
	@./scripts/bench-thesis.sh $(BUILD)

fuzz: build
	@./scripts/fuzz.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)
