package signature

import (
	"strconv"
	"testing"
	"time"
)

// FuzzVerify checks that Verify never panics on any input, and that what Sign
// produces always verifies, including with a second secret beside it.
func FuzzVerify(f *testing.F) {
	for _, v := range loadVectors(f) {
		var secret string
		if len(v.Secrets) > 0 {
			secret = v.Secrets[0]
		}
		f.Add(secret, v.ID, v.Timestamp, v.Signature, []byte(v.Body), v.Now)
	}
	f.Fuzz(func(t *testing.T, secret, id, ts, sigHeader string, body []byte, now int64) {
		nowT := time.Unix(now, 0)
		_ = Verify([]string{secret}, id, ts, sigHeader, body, nowT, time.Minute)
		_ = Verify([]string{secret, "other"}, id, ts, sigHeader, body, nowT, 0)

		if _, err := Key(secret); err != nil || id == "" {
			return
		}
		stamp := max(now, 0) % 1e15 // keep the timestamp within what Verify parses
		for _, secrets := range [][]string{{secret}, {"other-secret", secret}} {
			h, err := Sign(secrets, id, stamp, body)
			if err != nil {
				t.Fatalf("Sign(%q): %v", secrets, err)
			}
			if err := Verify([]string{secret}, id, strconv.FormatInt(stamp, 10), h, body, time.Unix(stamp, 0), 0); err != nil {
				t.Fatalf("a signature Sign made does not verify: %v", err)
			}
		}
	})
}
