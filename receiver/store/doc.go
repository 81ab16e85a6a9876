// Package store keeps the events a labhooks receiver got, each once, in
// SQLite or PostgreSQL: it is the receiver.Store behind `labhooks receive`,
// and one a partner's own Go program can use.
//
// Open takes a SQLite file path (created if missing) or a postgres:// URL and
// creates, if missing, one table that partners can query:
//
//	received_events
//	  webhook_id        text primary key  the delivery's id, the same on every retry
//	  event_name        text              appointmentCreated, sampleUpdated, …
//	  data              JSON              the event's data (SQLite: text; PostgreSQL: json)
//	  body              bytes             the request body exactly as received and signed
//	  webhook_timestamp integer           unix seconds of the attempt that was stored
//	  received_at       time              when it was stored (SQLite: RFC 3339 text, UTC)
//
// with indexes on received_at and on (event_name, received_at). For example,
// in SQLite:
//
//	SELECT webhook_id, json_extract(data, '$.appointmentId') FROM received_events
//	WHERE event_name = 'appointmentCreated' ORDER BY received_at;
//
// and in PostgreSQL:
//
//	SELECT webhook_id, data->>'appointmentId' FROM received_events
//	WHERE event_name = 'appointmentCreated' ORDER BY received_at;
//
// An event is stored with INSERT … ON CONFLICT (webhook_id) DO NOTHING, so a
// redelivery is acknowledged without being stored twice. Save returns only
// after the row is committed: SQLite runs in WAL mode with synchronous=FULL,
// so an acknowledged event survives the process being killed, and a power
// loss too.
//
// PostgreSQL connection parameters go in the URL, for example
// postgres://user@host/db?sslmode=disable&search_path=webhooks to keep the
// table in its own schema.
package store
