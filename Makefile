# make check is the CI gate: formatting, vet, staticcheck, the whole test
# suite under the race detector, a bounded run of every fuzz target, and a
# tree that the tests and the fuzzing left clean.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# FUZZTIME is how long make fuzz runs each fuzz target.
FUZZTIME ?= 5s
GOVULNCHECK := golang.org/x/vuln/cmd/govulncheck@v1.9.0
# GOVULNDB is the vulnerability database govulncheck reads: vuln.go.dev by
# default, or a local copy (file:///path/to/vulndb) where that is out of
# reach. The Go module proxy does not serve it.
GOVULNDB ?= https://vuln.go.dev

.PHONY: check fmt vet lint test fuzz soak vuln run bench

check: fmt vet lint
	@git status --porcelain 2>/dev/null > .check-before || true
	$(MAKE) test
	$(MAKE) fuzz
	@git status --porcelain 2>/dev/null | diff .check-before - >/dev/null || { echo "check: the tests changed the tree:"; git status --porcelain | diff .check-before - ; rm -f .check-before; exit 1; }
	@rm -f .check-before

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	test -z "$$out" || { echo "gofmt would change:"; echo "$$out"; exit 1; }

vet:
	go vet ./...

lint:
	go run $(STATICCHECK) ./...

# test runs the module's suite and, beside it, the tests of ESO's Vault
# provider against the Vault face, a module of their own
# (compat/vault/esotest: its Kubernetes dependencies stay out of the
# server's go.mod). Those build for minutes and then mostly wait on a
# server, so they run at the same time as the main suite, whose tests wait
# on servers too; their output is printed when both are done. They run
# without -race: the server they test is a child process, and instrumenting
# ESO's and Kubernetes' packages would triple their cold build time for
# sequential test code.
test:
	@set -u; eso=$$(mktemp); trap 'rm -f $$eso' EXIT; \
	(cd compat/vault/esotest && go test -timeout 15m ./... > $$eso 2>&1) & pid=$$!; \
	go test -race -parallel 4 -timeout 30m ./...; main=$$?; \
	wait $$pid; esorc=$$?; echo "--- compat/vault/esotest (its own module)"; cat $$eso; \
	test $$main -eq 0 -a $$esorc -eq 0

# fuzz runs every fuzz target for FUZZTIME, one target at a time (Go fuzzes
# one target per process). Each package's fuzzing test binary is built once
# (go test -c -fuzz) and run for each of its targets from the package's
# directory, as go test would, instead of being linked again per target. The
# seed corpora in testdata/fuzz are run by make test too. New interesting
# inputs go to the Go build cache (where go test -fuzz keeps them), never
# into the tree; a failing input is written to testdata/fuzz, which fails the
# clean-tree check of make check as well as this target. Minimizing is off:
# it can outlast a short FUZZTIME and fail the run for no bug. Go's fuzzing
# coordinator can also end a run with "context deadline exceeded" when
# FUZZTIME runs out while a worker is busy, with no failing input: such a run
# is tried again, twice at most; a failing input fails at once.
fuzz:
	@set -e; out=$$(mktemp); bin=$$(mktemp -d); trap 'rm -rf $$out $$bin' EXIT; cache=$$(go env GOCACHE)/fuzz; \
	for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		pkg=$$(go list $$dir); test=$$bin/$$(echo $$pkg | tr / _).test; \
		go test -c -fuzz=. -o $$test $$dir; \
		for target in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go | sed 's/^func //' | sort); do \
			for try in 1 2 3; do \
				echo "fuzz $$dir $$target ($(FUZZTIME))"; \
				if (cd $$dir && $$test -test.run='^$$' -test.fuzz="^$$target\$$" -test.fuzztime=$(FUZZTIME) \
					-test.fuzzminimizetime=0 -test.fuzzcachedir=$$cache/$$pkg -test.timeout=10m) > $$out 2>&1; then break; fi; \
				if [ $$try -lt 3 ] && grep -q 'context deadline exceeded' $$out && ! grep -q 'Failing input written' $$out; then \
					echo "fuzz $$dir $$target: the run ended with 'context deadline exceeded' and no failing input; again"; continue; \
				fi; \
				cat $$out; exit 1; \
			done; \
		done; \
		rm -f $$test; \
	done

# soak is the long tier of the crash tests: 60 kill -9s of the real server
# under a write load (COFFER_KILLS=N for another number).
soak:
	COFFER_SOAK=1 go test -run 'Soak' -v -timeout 60m ./cmd/coffer/

# vuln reports known vulnerabilities in the code paths coffer uses, of its
# dependencies and of the Go standard library it is built with. It needs
# GOVULNDB: the network (vuln.go.dev) or a local copy.
vuln:
	go run $(GOVULNCHECK) -db $(GOVULNDB) ./...

run:
	go run ./cmd/coffer server

bench:
	go run ./cmd/coffer bench
