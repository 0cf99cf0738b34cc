# The two quick-start commands: `make up` brings the whole consortium up,
# `make test` runs the unit and integration tests.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Fabric v3.1.1 (a pseudo-version: Fabric's tags are not Go module versions),
# pinned in chaincode/validation/go.mod with the validation plugin it loads.
FABRIC_VERSION    := $(shell awk '$$1 == "github.com/hyperledger/fabric" {print $$2}' chaincode/validation/go.mod)
FABRIC_CA_VERSION ?= v1.5.21
ROOT        := $(CURDIR)
CACHE       := $(ROOT)/.cache
FABRIC_BIN  := $(CACHE)/fabric/bin
PROJECT_BIN := $(CACHE)/bin
FABRIC_CFG   = $(shell go env GOMODCACHE)/github.com/hyperledger/fabric@$(FABRIC_VERSION)/sampleconfig
RUN         ?= $(ROOT)/.run
TOPOLOGY    ?=
CONSORTIUM   = $(PROJECT_BIN)/consortium -root $(ROOT) -run $(RUN) $(if $(TOPOLOGY),-topology $(TOPOLOGY)) -fabric-bin $(FABRIC_BIN) -project-bin $(PROJECT_BIN) -fabric-cfg $(FABRIC_CFG)
GO_TEST_FLAGS ?=
BENCH_ARGS    ?=

.PHONY: help build fabric up down stop start status bundle up-department up-orderer upgrade-chaincode test test-unit test-integration test-faults test-multihost bench lint fmt

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

# Build steps print with the time since make started; the Go tool's output
# ("go: downloading ...", compiler errors) goes to the build log.
BUILD_LOG   ?= $(CACHE)/build.log
BUILD_START := $(shell date +%s.%N)
export BUILD_LOG BUILD_START

fabric: ## build the pinned Fabric and Fabric CA binaries once (cached in .cache/; the Go tool's output in .cache/build.log)
	@FABRIC_CA_VERSION=$(FABRIC_CA_VERSION) FABRIC_BIN_CACHE=$(CACHE)/fabric scripts/fabric-bins.sh

build: fabric ## build Fabric (cached) and the project's binaries, each step with its elapsed time
	@scripts/project-bins.sh $(PROJECT_BIN)

up: build ## bring the whole consortium up (safe to run twice)
	$(CONSORTIUM) up

down: ## stop every process `make up` started and remove the state
	@if [ -x $(PROJECT_BIN)/consortium ]; then $(CONSORTIUM) down; else rm -rf $(RUN); fi

stop: ## stop every process, keeping the consortium's state
	$(CONSORTIUM) stop

start: ## start a stopped consortium again, state intact
	$(CONSORTIUM) start

status: ## show what runs, with memory
	@$(CONSORTIUM) status

VERSION ?=
upgrade-chaincode: build ## upgrade the chaincode under load: new package on every peer, each department approves, commit, servers switched (VERSION=label)
	$(CONSORTIUM) upgrade-chaincode $(if $(VERSION),-version $(VERSION))

DEPT    ?=
ORDERER ?=
OUT     ?= $(RUN)/bundles/$(or $(DEPT),$(ORDERER))
BUNDLE_FLAGS ?=
bundle: build ## write a department's or an orderer's bundle from the run folder: make bundle DEPT=Dept1MSP|ORDERER=orderer1 [OUT=dir] [BUNDLE_FLAGS=-with-ledger]
	@test -n "$(DEPT)$(ORDERER)" || { echo "make bundle DEPT=<mspId>|ORDERER=<name> [OUT=<dir>] [BUNDLE_FLAGS=-with-ledger]"; exit 2; }
	$(CONSORTIUM) bundle $(if $(DEPT),-dept $(DEPT),-orderer $(ORDERER)) -out $(OUT) $(BUNDLE_FLAGS)

# A bundle is a run folder of its own, with its own topology file.
BUNDLE ?=
ON_BUNDLE = $(PROJECT_BIN)/consortium -root $(ROOT) -run $(abspath $(BUNDLE)) -fabric-bin $(FABRIC_BIN) -project-bin $(PROJECT_BIN) -fabric-cfg $(FABRIC_CFG)
up-department: build ## start one department on this host from its bundle (written with -with-ledger): make up-department BUNDLE=dir
	@test -n "$(BUNDLE)" || { echo "make up-department BUNDLE=<bundle folder>"; exit 2; }
	$(ON_BUNDLE) up-department

up-orderer: build ## start one orderer on this host from its bundle: make up-orderer BUNDLE=dir
	@test -n "$(BUNDLE)" || { echo "make up-orderer BUNDLE=<bundle folder>"; exit 2; }
	$(ON_BUNDLE) up-orderer

test: test-unit test-integration test-faults test-multihost ## unit tests; integration and browser tests against a real consortium; fault tests; the multi-host test (root)

test-unit: ## unit tests (no network), in every module of the repository
	go test $(GO_TEST_FLAGS) ./...
	cd chaincode && go test $(GO_TEST_FLAGS) ./...
	cd chaincode/validation && go test $(GO_TEST_FLAGS) ./...

test-integration: build ## integration tests: reuse a running consortium or bring one up and down
	RUN=$(RUN) CONSORTIUM="$(CONSORTIUM)" scripts/integration.sh

test-faults: build ## fault tests: SIGKILL an indexer, a peer and the Raft leader, stop and start everything, flood bad and conflicting calls
	RUN=$(RUN) CONSORTIUM="$(CONSORTIUM)" scripts/faults.sh

test-multihost: build ## multi-host test (root): a network namespace per node on a bridge in 198.18.0.0/15, each started from its own bundle; the integration suite through each gateway; a department's link cut and restored; all torn down after
	PROJECT_BIN=$(PROJECT_BIN) FABRIC_BIN=$(FABRIC_BIN) FABRIC_CFG=$(FABRIC_CFG) TOPOLOGY=$(TOPOLOGY) scripts/multihost.sh

bench: build ## benchmark in one run: raw Fabric vs REST, indexer lag, replay of 100k tx, query latency, memory (BENCH_ARGS=-quick for a short run)
	RUN=$(RUN) CONSORTIUM="$(CONSORTIUM)" BENCH_FLAGS="-root $(ROOT) -run $(RUN) -fabric-bin $(FABRIC_BIN) -project-bin $(PROJECT_BIN) -fabric-cfg $(FABRIC_CFG)" scripts/bench.sh $(BENCH_ARGS)

lint: ## vet, gofmt and staticcheck
	go vet ./...
	cd chaincode && go vet ./...
	cd chaincode/validation && go vet ./...
	@test -z "$$(gofmt -l chaincode gateway indexer network scripts)" || { gofmt -l chaincode gateway indexer network scripts; exit 1; }
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	cd chaincode && go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

fmt: ## gofmt the tree
	gofmt -w chaincode gateway indexer network scripts
