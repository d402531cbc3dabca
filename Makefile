# The two commands a fresh machine needs (see README.md):
#   make up     build hellomgr and run `hellomgr up` on the shipped config.yaml
#   make test   install what the tests run (nginx, Prometheus, wrk, Tornado)
#               and run every test, end-to-end ones included
#   make package .deb and .rpm under dist/ (packaging/build.sh, docs/packages.md)

GO ?= go

.PHONY: up build test deps package
up: build
	./hellomgr up -c config.yaml

build:
	$(GO) build -o hellomgr .

deps:
	./scripts/install-deps

test: deps
	test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	# The Tornado integration's own tests, with Debian's python3 and Tornado.
	/usr/bin/python3 -m unittest discover -s python/hellomgr_tornado/tests -t python/hellomgr_tornado/tests
	# The shipped Prometheus rules: valid, and their unit tests (docs/metrics.md).
	cd deploy && promtool check rules hellomgr-rules.yml && promtool test rules tests/hellomgr-rules.test.yml
	$(GO) test -race -count=1 -timeout 15m ./...
	# The benches are a module of their own (bench/go.mod): their tests too.
	cd bench && $(GO) vet ./... && $(GO) test -count=1 ./...

# TORNADO_MODULE: the Tornado integration the packages ship, a module file
# or an import package's folder (the one with __init__.py), installed
# where Debian's python3 imports from. DIST: where the packages go.
TORNADO_MODULE ?= python/hellomgr_tornado/hellomgr_tornado
DIST ?= dist
package:
	GO=$(GO) DIST=$(DIST) PKG_VERSION=$(PKG_VERSION) TORNADO_MODULE=$(TORNADO_MODULE) ./packaging/build.sh
