# Cohort's build, run and test commands. Every target installs what is missing first.
SWIFT ?= swift
APT_PACKAGES := libopenblas-dev pkg-config
# The dashboard test takes a screenshot in a real headless browser.
TEST_APT_PACKAGES := chromium
FUZZ_SECONDS ?= 30

.PHONY: deps build release test attacks faults wan demo bench fuzz clean

deps:
	@./scripts/install-deps.sh $(APT_PACKAGES)

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# Two passes: the suites that start `cohort` processes block their threads while they wait on
# them, so run beside the in-process suites they would starve those of the cooperative pool
# (two threads on a 2-core machine) and turn their time bounds into flakes.
PROCESS_SUITES := CohortCommandTests|AllReduceProcessTests|ONNXExportTests
test: deps
	@./scripts/install-deps.sh $(TEST_APT_PACKAGES)
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-xctest --skip 'AttackTests|$(PROCESS_SUITES)'
	$(SWIFT) test --skip-build --disable-xctest --filter '$(PROCESS_SUITES)'

# The red-team suite (Tests/AttackTests, docs/security.md): a hostile peer against a real run.
attacks: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-xctest --filter AttackTests

# Fault-injection scenarios across network namespaces (scripts/faults/, docs/operations.md).
faults:
	@[ "$$(id -u)" = 0 ] || { echo "make faults needs root: it creates network namespaces, veth pairs and tc qdiscs"; exit 1; }
	@$(MAKE) --no-print-directory build
	./scripts/faults/run.sh

# The WAN rehearsal (scripts/wan/, docs/benchmarks.md "Home links"): the all-reduce alone and
# whole runs behind tbf links, in network namespaces. PYTHON=<a python with torch> adds gloo.
wan:
	@[ "$$(id -u)" = 0 ] || { echo "make wan needs root: it creates network namespaces and tc qdiscs"; exit 1; }
	@$(MAKE) --no-print-directory release
	./scripts/install-deps.sh iproute2 curl jq bc bsdextrautils procps
	./scripts/wan/allreduce.sh
	./scripts/wan/rehearsal.sh

demo: release
	.build/release/cohort demo --summary runs/demo-summary.json

bench: release
	.build/release/cohort bench train

fuzz: deps
	./scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf .build runs
