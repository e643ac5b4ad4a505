# Ferry's development targets. `make test` is the one command that runs the
# whole test suite on a fresh machine; CI runs exactly that.

GO ?= go
FUZZTIME ?= 5m
CRASH_CYCLES ?= 500

.PHONY: test deps build vet fuzz crash bench bench-http clean

test: deps
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 18m ./...

deps:
	./scripts/install-test-deps.sh

build:
	$(GO) build -o bin/ferry ./cmd/api

vet:
	gofmt -l . | (! grep .)
	$(GO) vet ./...

# fuzz runs every fuzz target for FUZZTIME each.
fuzz:
	./scripts/fuzz-all.sh $(FUZZTIME)

# crash runs the kill -9 tests for many more cycles than CI does.
crash: deps
	FERRY_CRASH_CYCLES=$(CRASH_CYCLES) $(GO) test -run 'Crash' -count=1 -timeout 2h -v ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./internal/... | tee bench.txt

bench-http: deps build
	./scripts/bench-http.sh

clean:
	rm -rf bin bench.txt
