// Package delivery sends events to data links: a Sender makes one signed POST
// through a client that refuses private addresses, Diagnose explains its
// outcome in plain words, and an Engine claims due deliveries from the Store,
// attempts them concurrently and records every attempt and what follows from
// it under the retry policy.
package delivery
