# Cohort's build, run and test commands. Every target installs what is missing first.
SWIFT ?= swift
APT_PACKAGES := libopenblas-dev pkg-config

.PHONY: deps build release test demo bench clean

deps:
	@./scripts/install-deps.sh $(APT_PACKAGES)

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

demo: release
	.build/release/cohort demo

bench: release
	.build/release/cohort bench train --json

clean:
	rm -rf .build
