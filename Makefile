# iotplan — build, test and demo.
GO      ?= go
BIN     := bin/iotplan
PKGS    := ./...
DEMO    := examples/quickstart

.PHONY: all build test interop race vet fmt check demo bench bench-quick fuzz fuzz-ci golden clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/iotplan

# The test command of the README and of CI. It runs the interop suite
# (test/interop) too, with the Node.js SDKs the lockfile pins, installed
# first when they are missing or older than the lockfile.
test: vet test/interop/node_modules/.package-lock.json
	$(GO) test -race -count=1 $(PKGS)

# The interop suite alone, with the official Azure IoT SDKs for Node.js
# installed first (docs/compatibility.md).
interop: test/interop/node_modules/.package-lock.json
	$(GO) test -race -count=1 -v ./test/interop

test/interop/node_modules/.package-lock.json: test/interop/package.json test/interop/package-lock.json
	npm ci --prefix test/interop --no-audit --no-fund

race: test

vet:
	$(GO) vet $(PKGS)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "not gofmt-formatted:"; echo "$$unformatted"; exit 1; fi

fmt:
	gofmt -w $$(git ls-files '*.go')

check: vet

# Plan, apply and plan again on the embedded local hub: the second plan has
# nothing to do.
demo: build
	rm -rf $(DEMO)/.iotplan $(DEMO)/iotplan.state $(DEMO)/iotplan.state.backup
	$(BIN) -chdir=$(DEMO) init
	$(BIN) -chdir=$(DEMO) plan
	$(BIN) -chdir=$(DEMO) apply -auto-approve
	$(BIN) -chdir=$(DEMO) plan -detailed-exitcode

golden:
	$(GO) test ./internal/plan/render -update

# The fleet benchmarks of docs/benchmarks.md: 1,000 and 10,000 devices three
# times each, 100,000 once (about 15 minutes in all on 2 cores). Prints a
# table and writes bench-results/results.json.
bench:
	$(GO) run ./cmd/iotplan-bench -runs 3 -large-runs 1

# The same harness on 1,000 devices only, with short Go benchmarks: a check
# that it still works.
bench-quick:
	$(GO) run ./cmd/iotplan-bench -quick

# Each fuzz target for FUZZTIME (go test allows one target per run).
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# Every fuzz target for a few seconds: what CI runs after the tests.
fuzz-ci:
	$(MAKE) fuzz FUZZTIME=5s

clean:
	rm -rf bin $(DEMO)/.iotplan $(DEMO)/iotplan.state $(DEMO)/iotplan.state.backup
