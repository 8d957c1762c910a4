# make check is the CI gate: formatting, vet, staticcheck, the whole test
# suite under the race detector, and a tree that the tests left clean.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: check fmt vet lint test soak run bench

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

# soak is the long tier of the crash tests: 60 kill -9s of the real server
# under a write load (COFFER_KILLS=N for another number).
soak:
	COFFER_SOAK=1 go test -run 'Soak' -v -timeout 60m ./cmd/coffer/

run:
	go run ./cmd/coffer server

bench:
	go run ./cmd/coffer bench
