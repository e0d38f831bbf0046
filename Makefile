# shopstream: `make run` runs the pipeline on embedded defaults; `make test` runs
# everything CI runs. Both install what they need into .cache/ (ignored by git).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

CACHE        := $(CURDIR)/.cache
CHDB_VERSION := 26.5.3
CHDB_LIB     := $(CACHE)/chdb/$(CHDB_VERSION)/libchdb.so
VENV         := $(CACHE)/venv
DBT          := $(VENV)/bin/dbt
DBT_REQUIREMENTS := $(CURDIR)/dbt/requirements.txt
VERSION      := $(shell git describe --always --dirty 2>/dev/null || echo dev)
GO_BUILD     := CGO_ENABLED=1 go build -tags chdb -ldflags '-r $$ORIGIN -X main.version=$(VERSION)'
TEST_KAFKA   := $(CACHE)/test-kafka
GOTEST_FLAGS ?= -race -timeout 30m

export GOFLAGS := -mod=mod

.PHONY: all build run test test-env bench-load bench-ingest bench-transform bench-export deps go-deps chdb kafka-jars venv export-venv compat-clients lint clean

all: build

## build: bin/shopstream with the embedded warehouse (libchdb.so is found next to it)
build: $(CHDB_LIB) go-deps
	$(GO_BUILD) -o bin/shopstream ./cmd/shopstream
	ln -sf $(CHDB_LIB) bin/libchdb.so

## run: the whole pipeline in one process on embedded defaults
run: build
	SHOPSTREAM_SOURCES_SIMULATE=$${SHOPSTREAM_SOURCES_SIMULATE:-true} ./bin/shopstream run

## test: unit tests (race detector) and integration tests against real Kafka,
## the embedded ClickHouse engine and real dbt
test: build kafka-jars venv compat-clients export-venv
	@deploy/local/kafka.sh stop $(TEST_KAFKA) >/dev/null 2>&1 || true
	@brokers=$$(deploy/local/kafka.sh start $(TEST_KAFKA)); \
	trap 'deploy/local/kafka.sh stop $(TEST_KAFKA) >/dev/null' EXIT; \
	echo "kafka broker for tests: $$brokers"; \
	SHOPSTREAM_TEST_KAFKA=$$brokers $(TEST_ENV) go test $(GOTEST_FLAGS) ./...

# TEST_ENV: what the integration tests read besides the broker's address
# (`make -s test-env` prints it, to run single tests by hand).
TEST_ENV = SHOPSTREAM_INTEGRATION=1 \
	SHOPSTREAM_TEST_BINARY=$(CURDIR)/bin/shopstream SHOPSTREAM_TEST_DBT=$(DBT) \
	SHOPSTREAM_TEST_PYTHON=$(VENV)/bin/python SHOPSTREAM_TEST_NODE_MODULES=$(COMPAT_NODE)/node_modules \
	SHOPSTREAM_TEST_JDBC_LIB=$(COMPAT_JDBC_LIB) SHOPSTREAM_TEST_EXPORT_PYTHON=$(EXPORT_PYTHON) \
	CHDB_LIB_PATH=$(CHDB_LIB)
test-env:
	@echo $(TEST_ENV)

## bench-load: the loader (shopstream load, real Kafka, embedded warehouse)
## against the ceiling (the same rows inserted straight as Native batches);
## the last line is `load ceiling-ratio X`. BENCH_ROWS and BENCH_BATCH_ROWS
## change the size.
BENCH_KAFKA      := $(CACHE)/bench-kafka
BENCH_ROWS       ?= 200000
BENCH_BATCH_ROWS ?= 10000
bench-load: build kafka-jars
	@deploy/local/kafka.sh stop $(BENCH_KAFKA) >/dev/null 2>&1 || true
	@brokers=$$(deploy/local/kafka.sh start $(BENCH_KAFKA)); \
	trap 'deploy/local/kafka.sh stop $(BENCH_KAFKA) >/dev/null' EXIT; \
	SHOPSTREAM_TEST_BENCH_LOAD=1 SHOPSTREAM_TEST_BENCH_ROWS=$(BENCH_ROWS) SHOPSTREAM_TEST_BENCH_BATCH_ROWS=$(BENCH_BATCH_ROWS) \
	SHOPSTREAM_TEST_KAFKA=$$brokers SHOPSTREAM_TEST_BINARY=$(CURDIR)/bin/shopstream CHDB_LIB_PATH=$(CHDB_LIB) \
	go test -count=1 -timeout 30m -run '^TestBenchLoad$$' -v ./load/ > $(CACHE)/bench-load.out 2>&1 \
		|| { tail -50 $(CACHE)/bench-load.out; exit 1; }; \
	grep '^load ' $(CACHE)/bench-load.out

## bench-ingest: every source's backfill of a seeded world (simulators on a
## manual clock, real Kafka): requests per 1,000 records and simulated wall
## time over the rate-limit floor; the webhook receiver's events/s and p99 to
## the Kafka ack. The last line is `ingest floor-ratio X`.
INGEST_BENCH_KAFKA := $(CACHE)/bench-ingest-kafka
bench-ingest: kafka-jars
	@deploy/local/kafka.sh stop $(INGEST_BENCH_KAFKA) >/dev/null 2>&1 || true
	@brokers=$$(deploy/local/kafka.sh start $(INGEST_BENCH_KAFKA)); \
	trap 'deploy/local/kafka.sh stop $(INGEST_BENCH_KAFKA) >/dev/null' EXIT; \
	SHOPSTREAM_TEST_KAFKA=$$brokers \
	go test -count=1 -timeout 30m -run '^$$' -bench '^BenchmarkIngest$$' -benchtime 1x ./ingest/stage/ > $(CACHE)/bench-ingest.out 2>&1 \
		|| { tail -50 $(CACHE)/bench-ingest.out; exit 1; }; \
	sed -n '/^ingest benchmark/,/^ingest floor-ratio/p' $(CACHE)/bench-ingest.out

## bench-transform: the transform's work per input record on one core (Avro
## decode, identity resolution, the join, Avro encode of every output; no
## Kafka) over a synthetic world of 10,000 products and 100,000 videos; prints
## the stage's peak memory, and the last line is
## `transform records-per-second X`. BENCH_TRANSFORM_FLAGS changes the world
## (-products, -videos, -days, -zone, -even, -cpuprofile).
BENCH_TRANSFORM_FLAGS ?= -products 10000 -videos 100000 -days 7
bench-transform:
	go build -o $(CACHE)/benchtransform ./transform/internal/benchtransform
	GOMAXPROCS=1 taskset -c 0 $(CACHE)/benchtransform $(BENCH_TRANSFORM_FLAGS)

## bench-export: `shopstream export` of BENCH_EXPORT_ROWS rows of
## product_daily (default 1,000,000) from the embedded warehouse to CSV and
## XLSX with the production binary (bin/shopstream-plain: no engine linked,
## so its memory is the exporter's), each against the ceiling (the
## warehouse's own CSV of the same query over HTTP); prints rows/s, CPU time
## and peak RSS. The last line is `export xlsx-peak-rss-mib X`.
BENCH_EXPORT_ROWS ?= 1000000
bench-export: build export-venv
	go build -o bin/shopstream-plain ./cmd/shopstream
	SHOPSTREAM_TEST_BENCH_EXPORT_ROWS=$(BENCH_EXPORT_ROWS) SHOPSTREAM_TEST_EXPORT_BINARY=$(CURDIR)/bin/shopstream-plain \
	SHOPSTREAM_TEST_BINARY=$(CURDIR)/bin/shopstream SHOPSTREAM_TEST_EXPORT_PYTHON=$(EXPORT_PYTHON) CHDB_LIB_PATH=$(CHDB_LIB) \
	go test -count=1 -timeout 60m -run '^TestBenchExport$$' -v ./export/ > $(CACHE)/bench-export.out 2>&1 \
		|| { tail -50 $(CACHE)/bench-export.out; exit 1; }; \
	grep '^export ' $(CACHE)/bench-export.out

deps: go-deps chdb kafka-jars venv compat-clients export-venv

go-deps:
	go mod download

## chdb: libchdb.so (the ClickHouse engine) from the npm package, pinned
chdb: $(CHDB_LIB)
$(CHDB_LIB):
	mkdir -p $(CACHE)/chdb/tmp
	cd $(CACHE)/chdb/tmp && npm pack --silent @chdb/lib-linux-x64-gnu@$(CHDB_VERSION) >/dev/null
	tar -xzf $(CACHE)/chdb/tmp/chdb-lib-linux-x64-gnu-$(CHDB_VERSION).tgz -C $(CACHE)/chdb/tmp package/libchdb.so
	mkdir -p $(dir $@)
	mv $(CACHE)/chdb/tmp/package/libchdb.so $@
	rm -rf $(CACHE)/chdb/tmp

kafka-jars:
	deploy/local/kafka.sh fetch

## venv: dbt-core 1.10 and dbt-clickhouse 1.10.3, every package pinned
## (dbt/requirements.txt), in .cache/venv
venv: $(DBT)
$(DBT): $(DBT_REQUIREMENTS)
	rm -rf $(VENV)
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r $(DBT_REQUIREMENTS)
	touch $@

## compat-clients: the ClickHouse clients of the compatibility matrix
## (internal/warehouse/compat), pinned: @clickhouse/client from npm (its
## lockfile) into .cache/compat/node, the JDBC driver's jars from Maven
## Central into .cache/compat/jdbc/lib. clickhouse-connect comes with the venv.
COMPAT_SRC      := $(CURDIR)/internal/warehouse/compat
COMPAT_NODE     := $(CACHE)/compat/node
COMPAT_JDBC_LIB := $(CACHE)/compat/jdbc/lib
compat-clients: $(COMPAT_NODE)/node_modules/.installed $(COMPAT_JDBC_LIB)/.installed
$(COMPAT_NODE)/node_modules/.installed: $(COMPAT_SRC)/node/package.json $(COMPAT_SRC)/node/package-lock.json
	rm -rf $(COMPAT_NODE) && mkdir -p $(COMPAT_NODE)
	cp $^ $(COMPAT_NODE)/
	cd $(COMPAT_NODE) && npm ci --no-audit --no-fund --silent
	touch $@
$(COMPAT_JDBC_LIB)/.installed: $(COMPAT_SRC)/jdbc/pom.xml
	rm -rf $(COMPAT_JDBC_LIB)
	mvn -B -q -f $< -Dmaven.repo.local=$(CACHE)/m2 -Dstyle.color=never \
		dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=$(COMPAT_JDBC_LIB)
	touch $@

## export-venv: openpyxl (export/testdata/requirements.txt, pinned) in
## .cache/export-venv, the reader the export tests check XLSX files with
EXPORT_VENV         := $(CACHE)/export-venv
EXPORT_PYTHON       := $(EXPORT_VENV)/bin/python
EXPORT_REQUIREMENTS := $(CURDIR)/export/testdata/requirements.txt
export-venv: $(EXPORT_VENV)/.installed
$(EXPORT_VENV)/.installed: $(EXPORT_REQUIREMENTS)
	rm -rf $(EXPORT_VENV)
	python3 -m venv $(EXPORT_VENV)
	$(EXPORT_VENV)/bin/pip install --quiet --disable-pip-version-check -r $(EXPORT_REQUIREMENTS)
	touch $@

STATICCHECK := $(CACHE)/bin/staticcheck
$(STATICCHECK):
	GOBIN=$(CACHE)/bin go install honnef.co/go/tools/cmd/staticcheck@v0.8.2

## lint: gofmt, go vet (with and without the engine) and staticcheck
lint: $(STATICCHECK)
	test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }
	go vet ./...
	go vet -tags chdb ./...
	$(STATICCHECK) ./...
	$(STATICCHECK) -tags chdb ./...

clean:
	rm -rf bin data
