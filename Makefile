# Resident Portal BFF — see README.md.
SHELL := /bin/bash
GO ?= go
export PATH := $(PATH):/usr/local/go/bin

.PHONY: test check-generate vet build run bench

## test: everything CI runs — services up, generated code in sync, vet, the whole suite
test:
	@TEST_DATABASE_URL=$$(.ci/services.sh postgres) && .ci/services.sh redis && \
	  export TEST_DATABASE_URL && echo "tests use $$TEST_DATABASE_URL" && \
	  $(MAKE) --no-print-directory check-generate vet && \
	  $(GO) test -count=1 -race -timeout 20m ./...

## check-generate: regenerating code must change nothing
check-generate:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) generate ./...
	@git diff --exit-code --stat -- . ':!go.sum' || { echo "generated code is out of date: run go generate ./... and commit"; exit 1; }

vet:
	$(GO) vet ./...

build:
	$(GO) build -o bin/ ./cmd/...
