// Package chaos is the whole-pipeline chaos soak: `make chaos` (ten minutes
// by default) and a short run inside `make test` (TestChaos).
//
// It runs every part as its own process, as a deployment does: a real
// Kafka broker the test owns (deploy/local/kafka.sh), the embedded
// warehouse (`shopstream warehouse`), the marketplace simulators over one
// seeded world (`shopstream sim`), every ingest stage (`shopstream ingest
// amazon|tiktokbiz|webhooks`; webhooks runs the TikTok Shop poller too), N
// transform instances and the loader. A schedule drawn from a seed SIGKILLs
// random processes at random instants and restarts them, switches API
// faults on and off in the simulators (5xx, 429, cut-short bodies, slow
// answers) and takes the warehouse away for an outage. The schedule is
// printed first; the same seed gives the same schedule.
//
// Then the chaos stops, the pipeline settles and the test checks, one line
// each: the raw change tables hold the simulators' ground truth (orders in
// their final state, order lines, catalog and products, videos, every
// webhook the receiver acknowledged), no change twice (key and version,
// event id), the current-state tables one row per key after FINAL,
// product_daily and product_links equal to the oracle of package
// transform/oracle computed in SQL over the raw tables, consumer lag 0, and
// no open dead letter the faults do not account for. The last line is
// `chaos: kills N, faults M, lost 0, duplicated 0, oracle rows equal X/X`.
package chaos
