# Resident Portal BFF — see README.md.
SHELL := /bin/bash
GO ?= go
export PATH := $(PATH):/usr/local/go/bin

.PHONY: help test check check-generate check-monitoring page screenshots vet build run reset-demo bench fuzz release

# make run's database: one per checkout, so that two checkouts (each with its
# own key in .data/) never share one.
DEMO_DB ?= resident_portal_$(shell printf '%s' '$(CURDIR)' | sha256sum | cut -c1-8)

## help: this list (plain `make` prints it; nothing runs by default)
help:
	@grep -E '^## ' $(MAKEFILE_LIST) | sed 's/^## /  make /' | sed 's/: /\t/' | expand -t 24

## test: everything CI runs — services up, generated code in sync, vet, the whole suite
test:
	@TEST_DATABASE_URL=$$(.ci/services.sh postgres) && .ci/services.sh redis && .ci/services.sh nats && .ci/services.sh chromium && .ci/services.sh radclient && .ci/services.sh netns && .ci/services.sh release && \
	  export TEST_DATABASE_URL && echo "tests use $$TEST_DATABASE_URL" && \
	  $(MAKE) --no-print-directory check-generate vet check-monitoring && \
	  $(GO) test -count=1 -race -timeout 20m ./... && \
	  $(MAKE) --no-print-directory fuzz

## check-generate: regenerating code (gqlgen, the resident page's build and manifest) must change nothing
check-generate: page
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) generate ./...
	@git diff --exit-code --stat -- . ':!go.sum' || { echo "generated code is out of date: run go generate ./... and make page, and commit"; exit 1; }
	@test -z "$$(git status --porcelain --untracked-files=all -- graph/portal)" || { echo "the page's build made files that are not committed:"; git status --short -- graph/portal; exit 1; }

## page: build the resident page (graph/portal/dist, manifest.json, typed operations) from its sources with the locked npm packages
page:
	cd graph/portal/web && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build

## screenshots: the resident page on a phone and a desktop, as the browser test sees it (docs/page-*.png, shown in the README)
screenshots: page
	@TEST_DATABASE_URL=$$(.ci/services.sh postgres) && .ci/services.sh chromium && export TEST_DATABASE_URL && mkdir -p docs && \
	  PAGE_SCREENSHOTS=$(CURDIR)/docs $(GO) test -count=1 -run 'TestResidentPageInBrowser/allow' ./cmd/portald/

## check: the fast loop (about two minutes): gofmt, go vet, and the tests that need no browser, no database of their own, no network namespace and no release build (go test -short); make test runs everything
check:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	@TEST_DATABASE_URL=$$(.ci/services.sh postgres) && .ci/services.sh redis && .ci/services.sh nats && export TEST_DATABASE_URL && \
	  $(GO) vet ./... && $(GO) test -short -count=1 ./...

vet:
	$(GO) vet ./...

## check-monitoring: the Prometheus alert rules are valid and their unit tests pass (promtool)
check-monitoring:
	@.ci/services.sh promtool
	cd deploy/prometheus && promtool check rules alerts.yml && promtool test rules alerts_test.yml

FUZZTIME ?= 10s
## fuzz: a short run of every fuzz target (seed corpora in testdata/fuzz are also run by go test)
fuzz:
	@set -eo pipefail; for t in ./rest/:FuzzRESTBodies ./rest/:FuzzRESTPathParams ./rest/:FuzzGraphQL ./rest/:FuzzGraphQLCost \
	    ./graph/model/:FuzzParseMAC ./resolvers/:FuzzDirectExecutor ./resolvers/:FuzzDecodeEnvelope; do \
	  echo "fuzz $${t#*:} ($(FUZZTIME))"; \
	  $(GO) test -run='^$$' -fuzz="^$${t#*:}\$$" -fuzztime=$(FUZZTIME) "$${t%%:*}" > .fuzz.log 2>&1 || \
	    if grep -q '^    context deadline exceeded$$' .fuzz.log && ! grep -q 'Failing input written' .fuzz.log; then \
	      echo "  Go's fuzz coordinator missed its own -fuzztime deadline (go.dev/issue/75804, fixed in Go 1.27): no failing input"; \
	    else tail -n 30 .fuzz.log; rm -f .fuzz.log; exit 1; fi; \
	  grep -E 'execs: [0-9]+ \(|^(ok|FAIL|---)' .fuzz.log | tail -2; rm -f .fuzz.log; done

build:
	$(GO) build -o bin/ ./cmd/...

## run: portald with demo data (:8080, or ports of this checkout's own when another has them; this checkout's database on the local PostgreSQL, or a private one; a development SECRET_KEY in .data/)
run:
	@DEMO_DB=$(DEMO_DB) bash .ci/demo.sh

## release: dist/ — static binaries (linux/amd64, arm64), Debian packages with systemd units, the OCI image, a CycloneDX SBOM, SHA256SUMS
release:
	@bash deploy/release.sh

## reset-demo: drop this checkout's demo database (make run makes it again, with fresh demo data)
reset-demo:
	@.ci/services.sh drop-database $(DEMO_DB) && rm -f .data/wifisync_key

## bench: portald vs a raw pgx floor vs PostGraphile v4/v5, side by side; writes BENCHMARKS.md
bench:
	bash bench/run.sh
