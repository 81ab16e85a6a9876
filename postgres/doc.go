// Package postgres is labhooks' Store on PostgreSQL, for running any number
// of labhooks processes against one database.
//
// The deliveries table is the queue, as in the SQLite store. Processes claim
// due deliveries with SELECT … FOR UPDATE SKIP LOCKED, so two never take the
// same one, and each claim is a lease: a process that dies leaves its
// deliveries due again once the lease runs out. Storing new or requeued
// deliveries sends a NOTIFY in the same transaction; Store.Listen turns those
// into wake-ups of idle delivery engines in every process.
//
// Open applies the embedded, versioned migrations (under an advisory lock,
// so processes starting together migrate once) and refuses a database whose
// schema is newer than the binary. Errors that mean the database cannot be
// reached are labhooks.EUnavailable, which the API answers with 503.
package postgres
