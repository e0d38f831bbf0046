// Package e2e holds the tests and benchmarks that run the whole pipeline as
// processes (package pipelinetest): end-to-end latency from a webhook to
// the joined table, the loader next to a peer loader, and the security
// checks that need a running `shopstream run`. They need what `make test`
// starts (a real Kafka broker, the binary with the embedded warehouse).
package e2e
