// Package labhooks holds the domain of the labhooks webhook service: partners,
// their data links, the event catalog's types, events, deliveries and their
// attempts, the Store interface over them, the Error type with its codes, and
// the retry policy.
//
// It imports only the standard library. Each outside dependency (SQLite,
// PostgreSQL, HTTP, JSON Schema) lives in a package of its own that depends on
// this one, and cmd/labhooks wires them together.
package labhooks
