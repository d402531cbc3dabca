# The two commands a fresh machine needs (see README.md):
#   make up     build hellomgr and run `hellomgr up` on the shipped config.yaml
#   make test   install what the tests run (nginx, Prometheus, wrk, Tornado)
#               and run every test, end-to-end ones included

GO ?= go

.PHONY: up build test deps
up: build
	./hellomgr up -c config.yaml

build:
	$(GO) build -o hellomgr .

deps:
	./scripts/install-deps

test: deps
	test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	# The shipped Prometheus rules: valid, and their unit tests (docs/metrics.md).
	cd deploy && promtool check rules hellomgr-rules.yml && promtool test rules tests/hellomgr-rules.test.yml
	$(GO) test -race -count=1 -timeout 15m ./...
	# The benches are a module of their own (bench/go.mod): their tests too.
	cd bench && $(GO) vet ./... && $(GO) test -count=1 ./...
