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
SUPERSET_VENV := $(CACHE)/superset-6.1.0
SUPERSET_REQUIREMENTS := $(CURDIR)/deploy/superset/requirements.txt
VERSION      := $(shell git describe --always --dirty 2>/dev/null || echo dev)
GO_BUILD     := CGO_ENABLED=1 go build -tags chdb -ldflags '-r $$ORIGIN -X main.version=$(VERSION)'
TEST_KAFKA   := $(CACHE)/test-kafka
NATIVE_VENV  := $(CACHE)/native-venv
NATIVE_PYTHON := $(NATIVE_VENV)/bin/python
NATIVE_REQUIREMENTS := $(CURDIR)/internal/warehouse/compat/requirements-native.txt
GOTEST_FLAGS ?= -race -timeout 30m

export GOFLAGS := -mod=mod

.PHONY: all build run dbt run-transform test test-env test-bi test-halo test-oracle-long chaos bench-load bench-ingest bench-transform bench-transform-restart bench-export bench-latency bench-peer deps go-deps chdb kafka-jars venv export-venv compat-clients native-venv superset-venv superset lint clean chromium ui-vendor

all: build

## build: bin/shopstream with the embedded warehouse (libchdb.so is found next to it)
build: $(CHDB_LIB) go-deps
	$(GO_BUILD) -o bin/shopstream ./cmd/shopstream
	ln -sf $(CHDB_LIB) bin/libchdb.so

## run: the whole pipeline in one process on embedded defaults;
## TRANSFORM_THREADS=3 runs three transform instances inside it
TRANSFORM_THREADS ?= 1
run: build
	SHOPSTREAM_SOURCES_SIMULATE=$${SHOPSTREAM_SOURCES_SIMULATE:-true} \
	SHOPSTREAM_TRANSFORM_THREADS=$${SHOPSTREAM_TRANSFORM_THREADS:-$(TRANSFORM_THREADS)} ./bin/shopstream run

## dbt: one `shopstream dbt` run (dbt build after the loader caught up) with
## the dbt of the project's virtual environment, against `make run`'s warehouse
dbt: build venv
	SHOPSTREAM_DBT_BIN=$${SHOPSTREAM_DBT_BIN:-$(DBT)} ./bin/shopstream dbt

## run-transform: one more transform instance (ID, default 2) of `make run`'s
## group, against its broker and registry; it shares the join's work with the
## instance inside run (see README, Transform)
ID ?= 2
run-transform: build
	SHOPSTREAM_KAFKA_BROKERS=$${SHOPSTREAM_KAFKA_BROKERS:-127.0.0.1:9092} \
	SHOPSTREAM_SCHEMA_REGISTRY_URL=$${SHOPSTREAM_SCHEMA_REGISTRY_URL:-http://127.0.0.1:8081} \
	SHOPSTREAM_METRICS_LISTEN=$${SHOPSTREAM_METRICS_LISTEN:-127.0.0.1:0} \
	./bin/shopstream transform --instance-id $(ID)

## test: unit tests (race detector) and integration tests against real Kafka,
## the embedded ClickHouse engine and real dbt
test: build kafka-jars venv compat-clients export-venv native-venv superset-venv chromium ui-vendor
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
	SHOPSTREAM_TEST_SUPERSET=$(SUPERSET_VENV) SHOPSTREAM_TEST_NATIVE_PYTHON=$(NATIVE_PYTHON) \
	SHOPSTREAM_TEST_CHROMIUM=$$(command -v chromium) \
	CHDB_LIB_PATH=$(CHDB_LIB)
test-env:
	@echo $(TEST_ENV)

## chaos: the whole-pipeline chaos soak (test/chaos): every stage, the
## warehouse and a Kafka broker of its own as separate processes on a seeded
## simulated world; a seeded schedule SIGKILLs them at random (at least 20
## kills in 10 minutes), switches API faults on and off and takes the
## warehouse away for CHAOS_OUTAGE; then it settles and checks the raw tables
## against the simulators' ground truth, duplicates, lag, dead letters and
## the oracle. The last line is `chaos: kills N, faults M, lost 0, ...`.
## CHAOS_DURATION (10m), CHAOS_SEED (replays a printed schedule),
## CHAOS_TRANSFORMS (2), CHAOS_OUTAGE (60s). make test runs a 150 s variant.
CHAOS_DURATION   ?= 10m
CHAOS_SEED       ?=
CHAOS_TRANSFORMS ?= 2
CHAOS_OUTAGE     ?= 60s
chaos: build kafka-jars
	SHOPSTREAM_INTEGRATION=1 SHOPSTREAM_TEST_BINARY=$(CURDIR)/bin/shopstream CHDB_LIB_PATH=$(CHDB_LIB) \
	CHAOS_DURATION=$(CHAOS_DURATION) CHAOS_SEED=$(CHAOS_SEED) CHAOS_TRANSFORMS=$(CHAOS_TRANSFORMS) CHAOS_OUTAGE=$(CHAOS_OUTAGE) \
	go test -count=1 -timeout 60m -run '^TestChaos$$' -v ./test/chaos/ > $(CACHE)/chaos.out 2>&1 \
		|| { grep -E '^(chaos|check|note|  \+)|FAIL|panic' $(CACHE)/chaos.out | tail -80; echo "full output: $(CACHE)/chaos.out"; exit 1; }; \
	grep -E '^(chaos|check|note|  \+)' $(CACHE)/chaos.out

## bench-load: the loader (shopstream load, real Kafka, embedded warehouse)
## against the ceiling (the same rows inserted straight as Native batches),
## over the native protocol and over HTTP; each protocol ends with a line
## `load <protocol> ceiling-ratio X`. The loader runs as production builds it
## (plain go build, no engine). BENCH_ROWS and BENCH_BATCH_ROWS change the size.
BENCH_KAFKA      := $(CACHE)/bench-kafka
BENCH_ROWS       ?= 200000
BENCH_BATCH_ROWS ?= 10000
bench-load: build kafka-jars
	go build -o $(CACHE)/bin/shopstream-noengine ./cmd/shopstream
	@deploy/local/kafka.sh stop $(BENCH_KAFKA) >/dev/null 2>&1 || true
	@brokers=$$(deploy/local/kafka.sh start $(BENCH_KAFKA)); \
	trap 'deploy/local/kafka.sh stop $(BENCH_KAFKA) >/dev/null' EXIT; \
	SHOPSTREAM_TEST_BENCH_LOAD=1 SHOPSTREAM_TEST_BENCH_ROWS=$(BENCH_ROWS) SHOPSTREAM_TEST_BENCH_BATCH_ROWS=$(BENCH_BATCH_ROWS) \
	SHOPSTREAM_TEST_BENCH_LOADER=$(CACHE)/bin/shopstream-noengine \
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
## the wall-clock rate, the stage's peak memory (VmHWM) and where the stores'
## reads were answered (state.ReadStats), and the last line is
## `transform records-per-second X`: input records per CPU-second of the process
## (getrusage user+sys, GC and pebble's compactions included), the "per core"
## figure, which other processes sharing the machine do not lower. BENCH_TRANSFORM_FLAGS changes the world
## (-products, -videos, -days, -posted, -zone, -even, -cpuprofile); -posted N (default 7) posts
## the videos up to N days before the world starts, so first snapshots are spread.
BENCH_TRANSFORM_FLAGS ?= -products 10000 -videos 100000 -days 7
bench-transform:
	go build -o $(CACHE)/benchtransform ./transform/internal/benchtransform
	GOMAXPROCS=1 taskset -c 0 $(CACHE)/benchtransform $(BENCH_TRANSFORM_FLAGS)

## bench-transform-restart: the history of a world (BENCH_RESTART_FLAGS, default
## 1,000 products, 10,000 videos, 90 days) into a real broker, `shopstream
## transform` (built as production builds it: no engine) through all of it
## (records/s per core, peak RSS), then SIGKILL
## and restart: the time from the start of the process to its first
## product_daily row, on its state directory and with it wiped (restored from
## the changelogs). The last line is `transform restart-seconds X`. Add
## -relink-day N for a catalog change on day N that relinks the entities of
## one product in ten during the catch-up.
BENCH_RESTART_FLAGS ?= -products 1000 -videos 10000 -days 90
RESTART_BENCH_KAFKA := $(CACHE)/bench-restart-kafka
bench-transform-restart: kafka-jars
	go build -o $(CACHE)/benchtransform ./transform/internal/benchtransform
	go build -o $(CACHE)/bin/shopstream-noengine ./cmd/shopstream
	@deploy/local/kafka.sh stop $(RESTART_BENCH_KAFKA) >/dev/null 2>&1 || true
	@brokers=$$(deploy/local/kafka.sh start $(RESTART_BENCH_KAFKA)); \
	trap 'deploy/local/kafka.sh stop $(RESTART_BENCH_KAFKA) >/dev/null' EXIT; \
	$(CACHE)/benchtransform -restart -brokers $$brokers -binary $(CACHE)/bin/shopstream-noengine $(BENCH_RESTART_FLAGS)

## test-oracle-long: the transform's oracle test with more worlds run by three
## instances SIGKILLed and restarted at random (ORACLE_LONG=1); `make test`
## runs the short set
ORACLE_KAFKA := $(CACHE)/oracle-kafka
test-oracle-long: build kafka-jars
	@deploy/local/kafka.sh stop $(ORACLE_KAFKA) >/dev/null 2>&1 || true
	@brokers=$$(deploy/local/kafka.sh start $(ORACLE_KAFKA)); \
	trap 'deploy/local/kafka.sh stop $(ORACLE_KAFKA) >/dev/null' EXIT; \
	ORACLE_LONG=1 SHOPSTREAM_TEST_KAFKA=$$brokers $(TEST_ENV) go test -count=1 -timeout 60m -run '^TestOracle$$' -v ./transform/oracle/

## bench-latency: signed TikTok Shop webhooks at a steady rate (BENCH_LATENCY_RATE,
## default 50/s, for BENCH_LATENCY_SECONDS, default 120) into `shopstream run`
## (real Kafka, embedded warehouse, the simulated shop's API): p50/p95/p99 per
## order from the webhook's arrival to its row in tiktok_orders and to its
## product's row in product_daily (by _inserted_at), and where the time goes.
## BENCH_LATENCY_ENV adds run settings (e.g. SHOPSTREAM_LOAD_MAX_WAIT=250ms).
LATENCY_BENCH_KAFKA := $(CACHE)/bench-latency-kafka
bench-latency: build kafka-jars
	@deploy/local/kafka.sh stop $(LATENCY_BENCH_KAFKA) >/dev/null 2>&1 || true
	@brokers=$$(deploy/local/kafka.sh start $(LATENCY_BENCH_KAFKA)); \
	trap 'deploy/local/kafka.sh stop $(LATENCY_BENCH_KAFKA) >/dev/null' EXIT; \
	SHOPSTREAM_TEST_KAFKA=$$brokers SHOPSTREAM_TEST_BINARY=$(CURDIR)/bin/shopstream CHDB_LIB_PATH=$(CHDB_LIB) \
	go test -count=1 -timeout 30m -run '^$$' -bench '^BenchmarkLatency$$' -benchtime 1x ./test/e2e/ > $(CACHE)/bench-latency.out 2>&1 \
		|| { tail -50 $(CACHE)/bench-latency.out; exit 1; }; \
	grep '^latency ' $(CACHE)/bench-latency.out

## bench-peer: shopstream load (production build, bin/shopstream-plain) against
## ClickHouse's Kafka table engine (AvroConfluent through the same registry,
## inside the same embedded warehouse) on the same topic: BENCH_PEER_ROWS
## (default 200,000) tiktok.webhook_events records, rows/s and peak RSS of
## each, then each SIGKILLed three times mid-load and restarted, counting
## duplicates and losses. The last line is `peer rows-per-second ratio X`.
PEER_BENCH_KAFKA := $(CACHE)/bench-peer-kafka
BENCH_PEER_ROWS  ?= 200000
bench-peer: build kafka-jars
	go build -o bin/shopstream-plain ./cmd/shopstream
	@deploy/local/kafka.sh stop $(PEER_BENCH_KAFKA) >/dev/null 2>&1 || true
	@brokers=$$(deploy/local/kafka.sh start $(PEER_BENCH_KAFKA)); \
	trap 'deploy/local/kafka.sh stop $(PEER_BENCH_KAFKA) >/dev/null' EXIT; \
	SHOPSTREAM_TEST_KAFKA=$$brokers SHOPSTREAM_TEST_BINARY=$(CURDIR)/bin/shopstream CHDB_LIB_PATH=$(CHDB_LIB) \
	SHOPSTREAM_TEST_PEER_LOADER=$(CURDIR)/bin/shopstream-plain BENCH_PEER_ROWS=$(BENCH_PEER_ROWS) \
	go test -count=1 -timeout 45m -run '^$$' -bench '^BenchmarkPeer$$' -benchtime 1x ./test/e2e/ > $(CACHE)/bench-peer.out 2>&1 \
		|| { tail -50 $(CACHE)/bench-peer.out; exit 1; }; \
	grep '^peer ' $(CACHE)/bench-peer.out

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

deps: go-deps chdb kafka-jars venv compat-clients export-venv native-venv

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
venv:
	@deploy/local/once.sh $(VENV) $(DBT_REQUIREMENTS) -- $(PY_VENV) $(VENV) $(DBT_REQUIREMENTS)

# PY_VENV DIR REQUIREMENTS: a fresh virtual environment with the pinned packages.
PY_VENV := deploy/local/pyvenv.sh

## chromium: headless Chromium (Debian's) for the analytics page's browser
## tests, with a font for its text
chromium:
	@command -v chromium >/dev/null && fc-list 2>/dev/null | grep -qi dejavu || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; }
	@chromium --version 2>/dev/null | head -1

## ui-vendor: checks the charting library vendored into the page
## (ui/assets/vendor/uplot) against the pinned npm release: npm verifies the
## tarball against the registry's integrity, which must be the one pinned
## here, and every vendored file must equal the release's.
## UI_VENDOR_UPDATE=1 copies the release in instead (after changing the pins).
UPLOT_VERSION   := 1.6.32
UPLOT_INTEGRITY := sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==
UPLOT_DIR       := $(CURDIR)/ui/assets/vendor/uplot
UPLOT_FILES     := dist/uPlot.iife.min.js dist/uPlot.min.css LICENSE
ui-vendor:
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; cd "$$tmp"; \
	got=$$(npm pack --json --silent uplot@$(UPLOT_VERSION) | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["integrity"])'); \
	test "$$got" = "$(UPLOT_INTEGRITY)" || { echo "uplot@$(UPLOT_VERSION): integrity $$got, pinned $(UPLOT_INTEGRITY)"; exit 1; }; \
	tar -xzf uplot-$(UPLOT_VERSION).tgz; \
	for f in $(UPLOT_FILES); do \
		if [ -n "$${UI_VENDOR_UPDATE:-}" ]; then mkdir -p $(UPLOT_DIR) && cp package/$$f $(UPLOT_DIR)/; \
		else cmp -s package/$$f $(UPLOT_DIR)/$$(basename $$f) || { echo "$(UPLOT_DIR)/$$(basename $$f) differs from uplot@$(UPLOT_VERSION)'s $$f (UI_VENDOR_UPDATE=1 make ui-vendor)"; exit 1; }; fi; \
	done; \
	if [ -n "$${UI_VENDOR_UPDATE:-}" ]; then echo "$(UPLOT_VERSION)" > $(UPLOT_DIR)/VERSION; fi; \
	test "$$(cat $(UPLOT_DIR)/VERSION)" = "$(UPLOT_VERSION)" || { echo "$(UPLOT_DIR)/VERSION is not $(UPLOT_VERSION)"; exit 1; }; \
	echo "ui/assets/vendor/uplot: uplot@$(UPLOT_VERSION), verified"

## compat-clients: the ClickHouse clients of the compatibility matrix
## (internal/warehouse/compat), pinned: @clickhouse/client from npm (its
## lockfile) into .cache/compat/node, the JDBC driver's jars from Maven
## Central into .cache/compat/jdbc/lib. clickhouse-connect comes with the venv.
COMPAT_SRC      := $(CURDIR)/internal/warehouse/compat
COMPAT_NODE     := $(CACHE)/compat/node
COMPAT_JDBC_LIB := $(CACHE)/compat/jdbc/lib
COMPAT_NODE_INPUTS := $(COMPAT_SRC)/node/package.json $(COMPAT_SRC)/node/package-lock.json
compat-clients:
	@deploy/local/once.sh $(COMPAT_NODE) $(COMPAT_NODE_INPUTS) -- bash -c '\
		rm -rf $(COMPAT_NODE) && mkdir -p $(COMPAT_NODE) && cp $(COMPAT_NODE_INPUTS) $(COMPAT_NODE)/ && \
		cd $(COMPAT_NODE) && npm ci --no-audit --no-fund --silent'
	@deploy/local/once.sh $(COMPAT_JDBC_LIB) $(COMPAT_SRC)/jdbc/pom.xml -- bash -c '\
		rm -rf $(COMPAT_JDBC_LIB) && mvn -B -q -f $(COMPAT_SRC)/jdbc/pom.xml -Dmaven.repo.local=$(CACHE)/m2 -Dstyle.color=never \
		dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=$(COMPAT_JDBC_LIB)'

## superset-venv: Apache Superset 6.1.0 with clickhouse-connect, every package
## pinned (deploy/superset/requirements.txt), in .cache/superset-6.1.0
superset-venv:
	@deploy/local/once.sh $(SUPERSET_VENV) $(SUPERSET_REQUIREMENTS) -- bash -c '\
		rm -rf $(SUPERSET_VENV) && deploy/superset/superset.sh install $(SUPERSET_VENV)'

## superset: Superset with its metadata in data/superset and the shopstream
## dashboard imported, served on http://127.0.0.1:8088 (admin/admin; the
## warehouse of make run, or SHOPSTREAM_SUPERSET_CLICKHOUSE_URI)
superset: superset-venv
	deploy/superset/superset.sh setup $(SUPERSET_VENV) $(CURDIR)/data/superset
	deploy/superset/superset.sh run $(SUPERSET_VENV) $(CURDIR)/data/superset 8088

## test-bi: only the BI tests (halo mart, scheduled dbt, Superset, Grafana)
test-bi: build venv superset-venv
	$(TEST_ENV) go test -count=1 -timeout 30m -run 'Halo|DbtRuns|Superset|BusinessDashboard|ParseSchedule|NoOverlap|RunOnce|RunResults' \
		./internal/warehouse/ ./internal/dbtrun/ ./deploy/ ./deploy/superset/

## test-halo: TestHaloEndToEnd on the whole demo world (both channels'
## orders too, some five minutes on two cores; make test runs its short
## variant), against a broker of its own
HALO_TEST_KAFKA := $(CACHE)/test-halo-kafka
test-halo: build kafka-jars venv
	@deploy/local/kafka.sh stop $(HALO_TEST_KAFKA) >/dev/null 2>&1 || true
	@brokers=$$(deploy/local/kafka.sh start $(HALO_TEST_KAFKA)); \
	trap 'deploy/local/kafka.sh stop $(HALO_TEST_KAFKA) >/dev/null' EXIT; \
	SHOPSTREAM_TEST_KAFKA=$$brokers SHOPSTREAM_TEST_HALO=1 $(TEST_ENV) go test -count=1 -timeout 30m -v -run '^TestHaloEndToEnd$$' ./test/e2e/

## export-venv: openpyxl (export/testdata/requirements.txt, pinned) in
## .cache/export-venv, the reader the export tests check XLSX files with
EXPORT_VENV         := $(CACHE)/export-venv
EXPORT_PYTHON       := $(EXPORT_VENV)/bin/python
EXPORT_REQUIREMENTS := $(CURDIR)/export/testdata/requirements.txt
export-venv:
	@deploy/local/once.sh $(EXPORT_VENV) $(EXPORT_REQUIREMENTS) -- $(PY_VENV) $(EXPORT_VENV) $(EXPORT_REQUIREMENTS)

## native-venv: clickhouse-driver (the Python native-protocol client) for the
## compatibility matrix, every package pinned, in .cache/native-venv
native-venv:
	@deploy/local/once.sh $(NATIVE_VENV) $(NATIVE_REQUIREMENTS) -- $(PY_VENV) $(NATIVE_VENV) $(NATIVE_REQUIREMENTS)

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
