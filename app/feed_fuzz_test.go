package app_test

import (
	"strings"
	"testing"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
	"github.com/labhooks/labhooks/id"
)

// FuzzParseFeedCursor checks that a feed cursor is taken only when it is
// empty or a delivery ID, and refused with EInvalid otherwise, never
// panicking.
func FuzzParseFeedCursor(f *testing.F) {
	f.Add("")
	f.Add(id.New(id.Delivery))
	f.Add("dlv_")
	f.Add("dlv_01JDZ3M5X8Q2V9K7T4R6W1N0PA' OR 1=1")
	f.Add(strings.Repeat("dlv_", 100))
	f.Fuzz(func(t *testing.T, cursor string) {
		got, err := app.ParseFeedCursor("after", cursor)
		if err != nil {
			if labhooks.ErrorCode(err) != labhooks.EInvalid || cursor == "" || id.Valid(id.Delivery, cursor) {
				t.Fatalf("ParseFeedCursor(%q) refused: %v", cursor, err)
			}
			return
		}
		if got != cursor || (cursor != "" && !id.Valid(id.Delivery, cursor)) {
			t.Fatalf("ParseFeedCursor(%q) = %q", cursor, got)
		}
	})
}
