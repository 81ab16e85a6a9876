// Package id makes labhooks' identifiers: a type prefix and a ULID, such as
// dlv_01JDZ3M5X8Q2V9K7T4R6W1N0PA. They are opaque to users, unique, and sort
// by creation time, which is what cursor paging and "newest first" rely on.
package id

import (
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// Prefixes of each kind of object.
const (
	Partner  = "ptn"
	DataLink = "dl"
	Event    = "evt"
	Delivery = "dlv"
	// Notification is a notification in the outbox (labhooks.Notification).
	Notification = "ntf"
	// Test is the webhook-id prefix of a test send (the Test button): it is
	// no delivery and is stored nowhere, and says so to the receiver.
	Test = "test"
)

// New returns a fresh identifier with the given prefix. Within one process,
// identifiers made later sort after earlier ones even inside a millisecond.
func New(prefix string) string {
	return prefix + "_" + ulid.Make().String()
}

// Floor returns the smallest identifier with the given prefix that New
// could make at t: every identifier made at t or later sorts at or after
// it, so a range of identifiers can stand for a range of creation times.
func Floor(prefix string, t time.Time) string {
	var u ulid.ULID
	if t.Before(time.UnixMilli(0)) {
		t = time.UnixMilli(0)
	}
	u.SetTime(ulid.Timestamp(t))
	return prefix + "_" + u.String()
}

// Valid reports whether s is an ID that New(prefix) could have made: the
// prefix, an underscore and a ULID in Crockford's base 32.
func Valid(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix+"_")
	if !ok {
		return false
	}
	_, err := ulid.ParseStrict(rest)
	return err == nil
}
