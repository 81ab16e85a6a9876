// Package sqlstore is the Go that labhooks' two SQL stores (package sqlite
// and package postgres) share: scanning rows into domain types, building
// WHERE clauses from filters, the reads and writes whose SQL both databases
// speak alike, and the loops around them. Store implements those methods of
// labhooks.Store once; each store embeds it and adds what it does its own
// way (storing events, targeting, claiming, recording attempts).
//
// What differs between the databases reaches this package through a DB: how
// a time or a list of event names is stored (Dialect), and the connection or
// transaction a call runs on, chosen by the store. SQL that only one
// database speaks stays in that store's package. The SQL here numbers its
// parameters $1, $2, …: PostgreSQL's form, which modernc.org/sqlite binds by
// number as well.
//
// Errors come back as the driver returned them, or as *labhooks.Error where
// the meaning is labhooks' (ENotFound, EConflict); each store turns driver
// errors into its own (EUnavailable …) in Store.Read and Store.Write.
package sqlstore
