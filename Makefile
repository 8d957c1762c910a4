# make check is the CI gate: formatting, vet, staticcheck, the whole test
# suite under the race detector, and a tree that the tests left clean.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOVULNCHECK := golang.org/x/vuln/cmd/govulncheck@v1.9.0
# GOVULNDB is the vulnerability database govulncheck reads: vuln.go.dev by
# default, or a local copy (file:///path/to/vulndb) where that is out of
# reach. The Go module proxy does not serve it.
GOVULNDB ?= https://vuln.go.dev

.PHONY: check fmt vet lint test vuln run bench

check: fmt vet lint
	@git status --porcelain 2>/dev/null > .check-before || true
	$(MAKE) test
	@git status --porcelain 2>/dev/null | diff .check-before - >/dev/null || { echo "check: the tests changed the tree:"; git status --porcelain | diff .check-before - ; rm -f .check-before; exit 1; }
	@rm -f .check-before

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	test -z "$$out" || { echo "gofmt would change:"; echo "$$out"; exit 1; }

vet:
	go vet ./...

lint:
	go run $(STATICCHECK) ./...

test:
	go test -race -timeout 30m ./...

# vuln reports known vulnerabilities in the code paths coffer uses, of its
# dependencies and of the Go standard library it is built with. It needs
# GOVULNDB: the network (vuln.go.dev) or a local copy.
vuln:
	go run $(GOVULNCHECK) -db $(GOVULNDB) ./...

run:
	go run ./cmd/coffer server

bench:
	go run ./cmd/coffer bench
