# nfstream: make build | test | bench | lint | fuzz | demo | man
# Every target first makes sure the system packages and Go 1.26 are there.

GO ?= $(shell [ -x /usr/local/go/bin/go ] && echo /usr/local/go/bin/go || echo go)
export PATH := $(dir $(GO)):$(PATH)
BIN := bin/nfstream
FUZZTIME ?= 1m

.PHONY: all deps build test lint bench fuzz demo man clean

all: build

deps:
	@GO=$(GO) sh scripts/deps.sh

build: deps
	$(GO) build -o $(BIN) ./cmd/nfstream

lint: deps
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags ndpi_count ./internal/dpi

# The whole suite, under the race detector, then the conformance summary.
# The ndpi_count tag builds the counting nDPI allocator the C memory tests
# read (internal/dpi/count_cgo.go); the product is built without it.
test: lint
	$(GO) test -tags ndpi_count -race -count=1 ./...
	@$(GO) test -count=1 -run 'TestConformance' -v ./internal/pipeline | grep -E '^conformance' || true

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz: deps
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./internal/decode
	$(GO) test -run '^$$' -fuzz '^FuzzFastPath$$' -fuzztime $(FUZZTIME) ./internal/decode
	$(GO) test -run '^$$' -fuzz '^FuzzGopacketOracle$$' -fuzztime $(FUZZTIME) ./internal/decode
	$(GO) test -run '^$$' -fuzz '^FuzzAppendPyFloat$$' -fuzztime $(FUZZTIME) ./internal/output
	$(GO) test -run '^$$' -fuzz '^FuzzAppendInt$$' -fuzztime $(FUZZTIME) ./internal/output
	$(GO) test -run '^$$' -fuzz '^FuzzHiveValue$$' -fuzztime $(FUZZTIME) ./internal/output
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./internal/testing/ipfixread
	$(GO) test -run '^$$' -fuzz '^FuzzParseCollector$$' -fuzztime $(FUZZTIME) ./internal/output/ipfix
	$(GO) test -run '^$$' -fuzz '^FuzzPcap$$' -fuzztime $(FUZZTIME) ./internal/capture
	$(GO) test -run '^$$' -fuzz '^FuzzPcapng$$' -fuzztime $(FUZZTIME) ./internal/capture
	$(GO) test -run '^$$' -fuzz '^FuzzLoadONNX$$' -fuzztime $(FUZZTIME) ./internal/model
	$(GO) test -run '^$$' -fuzz '^FuzzFeatureName$$' -fuzztime $(FUZZTIME) ./internal/plugin
	$(GO) test -run '^$$' -fuzz '^FuzzLoadXGBoost$$' -fuzztime $(FUZZTIME) ./internal/model

# The main job on a capture this project generates and ships in testdata/.
demo: build
	./$(BIN) -r testdata/eth_ipv4.pcap --stats --splt 10

# Manual pages generated from the command definition, into bin/man
# (read one with: man -l bin/man/nfstream.1).
man: build
	./$(BIN) man bin/man

clean:
	rm -rf bin
