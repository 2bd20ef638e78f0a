# hearth: thin wrapper around Meson/Ninja. See README.md.
BUILD ?= build
MESON ?= meson

.PHONY: all deps build test lint demo bench bench-thesis fuzz clean format

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

# Every check runs, then lint fails if any did: the layout (.clang-format,
# for clang-format 14 as in Debian 12), the include layers (scripts/layers),
# the shell scripts' syntax (sh -n for #!/bin/sh, bash -n for the rest:
# bash scripts and the sourced fragments), and ShellCheck's errors when it
# is installed.
lint: deps
	@command -v clang-format > /dev/null || { echo "lint: clang-format is not installed"; exit 1; }; \
	clang-format --version | grep -q 'version 14\.' || \
	    echo "lint: $$(clang-format --version): .clang-format is tuned for clang-format 14"; \
	status=0; \
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h') || { status=1; \
	    echo "lint: the files above differ from .clang-format's layout (make format rewrites them)"; }; \
	./scripts/check-layers.sh || status=1; \
	for f in $$(git ls-files '*.sh' .ci/run); do \
	    if head -n 1 "$$f" | grep -q '^#! */bin/sh'; then sh=sh; else sh=bash; fi; \
	    $$sh -n "$$f" || { status=1; echo "lint: $$f: $$sh -n found a syntax error"; }; \
	done; \
	if command -v shellcheck > /dev/null; then \
	    shellcheck --severity=error --exclude=SC2148 $$(git ls-files '*.sh' .ci/run) || \
	        { status=1; echo "lint: shellcheck found errors in the scripts above"; }; \
	else echo "lint: shellcheck is not installed: the scripts' syntax only"; fi; \
	[ $$status -eq 0 ] && echo "lint: ok" || { echo "lint: FAILED (see above)"; exit 1; }

clean:
	rm -rf $(BUILD)
