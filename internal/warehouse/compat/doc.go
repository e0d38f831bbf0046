// Package compat is the warehouse's client compatibility matrix: every
// official ClickHouse client a user's tool may embed runs the same checks
// against a freshly started `shopstream warehouse` (TestClientMatrix).
//
// A client is one entry in the matrix (clients in compat_test.go): a Go
// function, or a small script in this directory in the client's own language.
// Scripts read CH_HOST, CH_PORT, CH_USER, CH_PASSWORD, CH_TABLE, CH_DDL
// (the CREATE TABLE statement), CH_ROWS and CH_WRONG_PASSWORD_CHECK, and
// print one line per check:
//
//	CHECK <name> ok
//	CHECK <name> fail <why>
//
// The rows every client inserts are a function of their number (the same in
// every language, spelled out in expectedRowsSQL), so the test also checks on
// the server that what landed is exactly what ClickHouse itself computes.
// Adding a client or a protocol is one entry and, for another language, one
// script.
package compat
