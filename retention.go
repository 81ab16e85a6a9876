package labhooks

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// Retention: labhooks keeps an event's payload (its data, and the response
// excerpts of its attempts) until the event is older than its retention
// and every one of its deliveries is final; then it erases the payload and
// keeps the rest (name, IDs, statuses, attempt times). Rows older than the
// history are deleted entirely. Both run in bounded batches (PurgeBatch
// events per transaction), so a purge never holds the database for long.

// Retention returns how long t's payloads are kept, given the server's
// retention and the retention t set for itself (nil: none). A type may
// shorten the server's, never lengthen it; a type that carries personal
// data keeps it at most DefaultPersonalDataRetention unless it sets its
// own.
func (t *EventType) Retention(server time.Duration, own *time.Duration) time.Duration {
	switch {
	case own != nil:
		return min(*own, server)
	case t.ContainsPersonalData:
		return min(DefaultPersonalDataRetention, server)
	}
	return server
}

// CheckRetention refuses a retention an event type cannot set. EInvalid.
func CheckRetention(r time.Duration) error {
	if r < time.Second || r%time.Second != 0 {
		return FieldErrorf(EInvalid, "retentionSeconds", "a whole number of seconds, at least 1")
	}
	if r > MaxRetention {
		return FieldErrorf(EInvalid, "retentionSeconds", "at most %d (%d days)", int64(MaxRetention/time.Second), int64(MaxRetention/(24*time.Hour)))
	}
	return nil
}

// ErasePayloadsParams selects the events whose payloads a retention pass
// erases: up to Limit events named EventName, created before Before,
// whose payload is not erased yet and none of whose deliveries is pending.
type ErasePayloadsParams struct {
	EventName string
	Before    time.Time
	Now       time.Time
	Limit     int
}

// UserIDOf returns the userId of an event's data, as the text of its JSON
// value (42 and "42" alike), or "" when it has none.
func UserIDOf(data []byte) string {
	if !bytes.Contains(data, []byte(`"userId"`)) {
		return ""
	}
	var v struct {
		UserID json.RawMessage `json:"userId"`
	}
	if json.Unmarshal(data, &v) != nil || len(v.UserID) == 0 {
		return ""
	}
	if v.UserID[0] == '"' {
		var s string
		if json.Unmarshal(v.UserID, &s) != nil {
			return ""
		}
		return s
	}
	if _, err := strconv.ParseFloat(string(v.UserID), 64); err != nil {
		return ""
	}
	return string(v.UserID)
}

// ErasurePersonalFields are the fields of a dataDeletionRequest that
// labhooks erases from its own copy once the request went out.
var ErasurePersonalFields = []string{"userEmail", "userPhoneNumber"}

// StripPersonalFields returns data without ErasurePersonalFields, every
// other field as it was (compact, keys sorted). A payload that is not an
// object (an erased one is null) is returned as it is.
func StripPersonalFields(data []byte) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil || m == nil {
		return data
	}
	for _, k := range ErasurePersonalFields {
		delete(m, k)
	}
	out, err := json.Marshal(m)
	if err != nil {
		return data
	}
	return out
}
