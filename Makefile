# streampipe — `make help` lists the targets; README.md and docs/local-stack.md say what they do.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

STACK := stack/stack.sh
# go.mod's toolchain line names a Go release with every known fix; the go on this
# machine may be older, and golang images and some distributions set GOTOOLCHAIN=local,
# which would build and check with it. `make GOTOOLCHAIN=local ...` still can.
export GOTOOLCHAIN = auto

# The programs `make build` puts in bin/ (each a thin main).
PROGRAMS := $(wildcard worker starter streaming/cmd/streaming)

.PHONY: help run test test-cluster lint bench bench-cluster build up down stack-up stack-down stack-status stack-lock cqlsh

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

run: ## the pipeline on the local stack: both workers, one run now, its rows in Cassandra (DATASET, DURATION, INTERVAL, RECORDS)
	@scripts/run.sh

.PHONY: check
check: ## the fast loop, no server needed: gofmt, go vet, staticcheck, workflowcheck, go test -short (under a minute)
	@scripts/lint.sh fast
	@echo "==> go test -short"
	@go test -short ./...

test: ## the one test command: lint, then the tests (-race), the end to end and the fault matrix, side by side
	@scripts/test.sh

test-cluster: ## the fault matrix on clusters of three (STACK_NODES=3: 3 Kafka brokers, 3 Cassandra nodes) of its own
	@scripts/test-cluster.sh

lint: ## gofmt, go vet, staticcheck, workflowcheck, govulncheck
	@scripts/lint.sh

# The benchmarks make bench runs: all by default; e.g. `make bench BENCH=Versus` runs
# only the comparison with Spark and the ceilings.
BENCH ?= .

bench: stack-up ## benchmarks on the local stack (figures, not pass/fail); BenchmarkVersus writes docs/bench/ and docs/performance.md's table (BENCH)
	BENCH_OUT=$(CURDIR)/docs/bench BENCH_PAGE=$(CURDIR)/docs/performance.md \
	  go test -p 1 -run '^$$' -bench '$(BENCH)' -benchtime 1x -timeout 60m ./...

# The scaling table needs clusters: scripts/cluster.sh starts (or reuses) them, in
# .stack-cluster on make test-cluster's ports, and stops what it started.
bench-cluster: ## the scaling table on clusters of three: 1, 2, 3 streaming workers beside the gocql ceilings (docs/bench/scaling.md)
	@CLUSTER_SERVICES="kafka cassandra" scripts/cluster.sh env BENCH_OUT=$(CURDIR)/docs/bench \
	  go test -p 1 -tags cluster -v -run '^$$' -bench '^BenchmarkScaling$$' -benchtime 1x -timeout 60m ./streaming/

build: ## the programs, into bin/
	@mkdir -p bin
	$(if $(PROGRAMS),go build -buildvcs=auto -o bin/ $(addprefix ./,$(PROGRAMS)),@echo "no programs yet")

up: ## the whole stack with Docker: docker compose up -d (Web UI :8080, Kafka UI :8085)
	@docker info >/dev/null 2>&1 || { echo "make up needs a running Docker engine; without one, 'make run' uses the local stack" >&2; exit 1; }
	docker compose up -d --build

down: ## stop the Docker stack (its volumes stay; docker compose down -v removes them)
	@docker info >/dev/null 2>&1 || { echo "make down needs a running Docker engine" >&2; exit 1; }
	docker compose down

stack-up: ## start the local stack (Temporal, Kafka, Cassandra) or reuse it; returns when all answer
	@$(STACK) up

stack-down: ## stop the local stack and the workers
	@$(STACK) down

stack-status: ## state, pid, port, memory and data size of each service
	@$(STACK) status

stack-lock: ## after changing stack/versions.env: pin what the stack downloads again (stack/lock/: jars and pip packages by sha256)
	@stack/lock.sh

cqlsh: ## cqlsh on the local Cassandra
	@$(STACK) cqlsh
