package labhooks_test

import (
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
)

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func whsec(seed uint64, n int) string {
	return "whsec_" + base64.StdEncoding.EncodeToString(randomBytes(seed, n))
}

func TestValidateSecret(t *testing.T) {
	// 24 distinct printable characters: the shortest acceptable secret.
	minimal := "aB3$xY7!kLm9#pQr2@sT5%vW"
	if len(minimal) != labhooks.MinSecretLength {
		t.Fatalf("test setup: minimal secret has %d characters", len(minimal))
	}
	good := []struct{ name, secret string }{
		{"minimal length, all distinct", minimal},
		{"long random", "Zq8vR2mW5tLx9pKc3nHj7bGf4dSa6yUe"},
		{"hex of 32 bytes", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
		{"10 distinct, each under a quarter", strings.Repeat("abcdefghij", 3)},
		{"printable punctuation", `!"#$%&'()*+,-./:;<=>?@[\]^_{|}~` + "`"},
		{"max length", strings.Repeat("abcdefghijklmnop", 16)},
		{"whsec_ of 24 bytes", whsec(1, 24)},
		{"whsec_ of 32 bytes", whsec(2, 32)},
		{"whsec_ of 64 bytes", whsec(3, 64)},
		{"generated", labhooks.GenerateSecret()},
	}
	for _, tt := range good {
		if err := labhooks.ValidateSecret(tt.secret); err != nil {
			t.Errorf("%s: ValidateSecret(%q) = %v, want nil", tt.name, tt.secret, err)
		}
	}
	bad := []struct{ name, secret, msg string }{
		{"the seed's example", "mysecretkey", "too short"},
		{"empty", "", "too short"},
		{"one short of the minimum", minimal[:len(minimal)-1], "too short"},
		{"too long", strings.Repeat("abcdefghijklmnop", 16) + "q", "at most"},
		{"one repeated character", strings.Repeat("a", 40), "guess"},
		{"two characters", strings.Repeat("ab", 20), "guess"},
		{"nine distinct", strings.Repeat("abcdefghi", 4), "only 9 different"},
		{"one character over a quarter", "aaaaaaa" + "bcdefghijklmnopqr", "quarter"},
		{"a password pattern", strings.Repeat("password", 4), "guess"},
		{"space", "correct horse battery staple", "printable ASCII"},
		{"tab", "Zq8vR2mW5tLx9pKc\t3nHj7bGf4dSa", "printable ASCII"},
		{"newline", "Zq8vR2mW5tLx9pKc3nHj7bGf4dSa\n", "printable ASCII"},
		{"DEL", "Zq8vR2mW5tLx9pKc3nHj7bGf4dSa\x7f", "printable ASCII"},
		{"NUL", "Zq8vR2mW5tLx9pKc3nHj7bGf4dSa\x00", "printable ASCII"},
		{"non-ASCII", "Zq8vR2mW5tLx9pKc3nHj7bGf4dSaü", "printable ASCII"},
		{"invalid UTF-8", "Zq8vR2mW5tLx9pKc3nHj7bGf4dSa\xff", "printable ASCII"},
		{"whsec_ with bad base64", "whsec_Zq8vR2mW5tLx9pKc3nHj7bGf4dSa6yUe!*", "whsec_"},
		{"whsec_ unpadded", strings.TrimRight(whsec(4, 32), "="), "whsec_"},
		{"whsec_ URL-safe alphabet", "whsec_" + base64.URLEncoding.EncodeToString(randomBytes(5, 33)) + "-_", "whsec_"},
		{"whsec_ of 16 bytes", whsec(6, 16), "whsec_"},
		{"whsec_ of 23 bytes", whsec(7, 23), "whsec_"},
		{"whsec_ of 65 bytes", whsec(8, 65), "whsec_"},
		{"looks sealed", labhooks.SealedSecretPrefix + "Zq8vR2mW5tLx9pKc3nHj7bGf4dSa", "sealed"},
	}
	for _, tt := range bad {
		err := labhooks.ValidateSecret(tt.secret)
		if code := labhooks.ErrorCode(err); code != labhooks.EWeakSecret {
			t.Errorf("%s: ValidateSecret(%q) = %v (code %q), want %s", tt.name, tt.secret, err, code, labhooks.EWeakSecret)
			continue
		}
		if msg := labhooks.ErrorMessage(err); !strings.Contains(msg, tt.msg) {
			t.Errorf("%s: message %q does not mention %q", tt.name, msg, tt.msg)
		}
	}
}

func TestGenerateSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		s := labhooks.GenerateSecret()
		rest, ok := strings.CutPrefix(s, "whsec_")
		if !ok {
			t.Fatalf("GenerateSecret() = %q, want the whsec_ form", s)
		}
		key, err := base64.StdEncoding.DecodeString(rest)
		if err != nil || len(key) != 32 {
			t.Fatalf("GenerateSecret() = %q: key of %d bytes, %v; want 32 bytes of standard base64", s, len(key), err)
		}
		if err := labhooks.ValidateSecret(s); err != nil {
			t.Fatalf("GenerateSecret() = %q is refused by ValidateSecret: %v", s, err)
		}
		if seen[s] {
			t.Fatalf("GenerateSecret() repeated %q", s)
		}
		seen[s] = true
	}
}

// Each refusal says what is wrong: a port out of range, a space, and,
// when http is allowed, that http:// is allowed too.
func TestDataLinkURLMessages(t *testing.T) {
	for _, tt := range []struct {
		url       string
		allowHTTP bool
		want      string
	}{
		{"https://example.com:99999/", false, "invalid port: a port is a number from 1 to 65535"},
		{"https://example.com:0/", false, "invalid port"},
		{"https://example.com:abc/", false, "invalid port"},
		{"https://example.com:/", false, "empty port"},
		{"https://example.com/a b", false, "must not contain spaces"},
		{"ftp://example.com/", false, "must start with https://"},
		{"ftp://example.com/", true, "must start with http:// or https://"},
		{"example.com/hook", true, "must start with http:// or https://"},
	} {
		err := labhooks.ValidateDataLinkURL(tt.url, tt.allowHTTP)
		if err == nil || !strings.Contains(labhooks.ErrorMessage(err), tt.want) {
			t.Errorf("ValidateDataLinkURL(%q, %v) = %v, want a message with %q", tt.url, tt.allowHTTP, err, tt.want)
		}
	}
}

func TestValidateDataLinkURL(t *testing.T) {
	longOK := "https://example.com/" + strings.Repeat("a", 2048-len("https://example.com/"))
	tests := []struct {
		url       string
		allowHTTP bool
		ok        bool
	}{
		{"https://example.com/hook", false, true},
		{"https://example.com", false, true},
		{"https://hooks.example.com:8443/a/b?x=1&y=2", false, true},
		{"HTTPS://Example.COM/hook", false, true},
		{"https://[2001:db8::1]:8443/hook", false, true},
		{"https://example.com/#", false, true}, // an empty fragment is no fragment
		{longOK, false, true},
		{longOK + "a", false, false},
		{longOK + "a", true, false},
		{"http://example.com/hook", false, false},
		{"http://example.com/hook", true, true},
		{"http://127.0.0.1:3000/", true, true},
		{"", false, false},
		{"", true, false},
		{"https://", false, false},
		{"https:///path", false, false},
		{"https://:443/path", false, false},
		{"https:example.com", false, false},
		{"example.com/hook", false, false},
		{"//example.com/hook", false, false},
		{"/hook", false, false},
		{"ftp://example.com/hook", false, false},
		{"ftp://example.com/hook", true, false},
		{"ws://example.com/hook", true, false},
		{"javascript:alert(1)", true, false},
		{"file:///etc/passwd", true, false},
		{"https://user:pw@example.com/hook", false, false},
		{"https://user@example.com/hook", false, false},
		{"http://user:pw@example.com/hook", true, false},
		{"https://example.com/hook#frag", false, false},
		{"https://exa mple.com/", false, false},
		{"https://example.com/%zz", false, false},
		{"https://example.com\x00/", false, false},
		{"https://example.com:65535/hook", false, true},
		{"https://example.com:65536/hook", false, false},
		{"https://example.com:99999/hook", false, false},
		{"https://example.com:0/hook", false, false},
		{"https://example.com:/hook", false, false},
		{"https://example.com:abc/hook", false, false},
		{"http://127.0.0.1:70000/hook", true, false},
		{"https://example.com/a b", false, false},
		{" https://example.com/hook", false, false},
		{"https://example.com/hook ", false, false},
		{"https://example.com/a\tb", false, false},
	}
	for _, tt := range tests {
		err := labhooks.ValidateDataLinkURL(tt.url, tt.allowHTTP)
		short := tt.url
		if len(short) > 60 {
			short = short[:60] + "…"
		}
		switch {
		case tt.ok && err != nil:
			t.Errorf("ValidateDataLinkURL(%q, %v) = %v, want nil", short, tt.allowHTTP, err)
		case !tt.ok && labhooks.ErrorCode(err) != labhooks.EInvalid:
			t.Errorf("ValidateDataLinkURL(%q, %v) = %v, want an %s error", short, tt.allowHTTP, err, labhooks.EInvalid)
		}
	}
}

func TestDataLinkSecrets(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	later, earlier := now.Add(time.Hour), now.Add(-time.Second)
	tests := []struct {
		name string
		prev string
		exp  *time.Time
		want []string
	}{
		{"no rotation", "", nil, []string{"cur"}},
		{"during the overlap", "old", &later, []string{"cur", "old"}},
		{"at the end of the overlap", "old", &now, []string{"cur"}},
		{"after the overlap", "old", &earlier, []string{"cur"}},
		{"previous without an expiry", "old", nil, []string{"cur"}},
		{"expiry without a previous secret", "", &later, []string{"cur"}},
	}
	for _, tt := range tests {
		d := &labhooks.DataLink{Secret: "cur", PreviousSecret: tt.prev, PreviousSecretExpiresAt: tt.exp}
		if got := d.Secrets(now); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Secrets = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestDataLinkSecretHint(t *testing.T) {
	for secret, want := range map[string]string{
		"":                      "",
		"abc":                   "",
		"abcd":                  "",
		"abcde":                 "…bcde",
		"Zq8vR2mW5tLx9pKc3nHj7": "…nHj7",
		"whsec_abcdefgh1234==":  "…34==",
	} {
		d := &labhooks.DataLink{Secret: secret}
		if got := d.SecretHint(); got != want {
			t.Errorf("SecretHint(%q) = %q, want %q", secret, got, want)
		}
	}
	// The hint never gives the secret away.
	s := labhooks.GenerateSecret()
	hint := (&labhooks.DataLink{Secret: s}).SecretHint()
	if !strings.HasSuffix(s, strings.TrimPrefix(hint, "…")) || len(strings.TrimPrefix(hint, "…")) != 4 {
		t.Errorf("SecretHint(%q) = %q", s, hint)
	}
}

func TestDataLinkAccepts(t *testing.T) {
	tests := []struct {
		names []string
		event string
		want  bool
	}{
		{nil, "appointmentCreated", true},
		{[]string{}, "anything", true},
		{[]string{"appointmentCreated", "sampleUpdated"}, "appointmentCreated", true},
		{[]string{"appointmentCreated", "sampleUpdated"}, "sampleUpdated", true},
		{[]string{"appointmentCreated", "sampleUpdated"}, "codeUsed", false},
		{[]string{"appointmentCreated"}, "AppointmentCreated", false},
		{[]string{"appointmentCreated"}, "", false},
	}
	for _, tt := range tests {
		d := &labhooks.DataLink{EventNames: tt.names}
		if got := d.Accepts(tt.event); got != tt.want {
			t.Errorf("EventNames %q: Accepts(%q) = %v, want %v", tt.names, tt.event, got, tt.want)
		}
	}
}

func TestDataLinkJSONHidesSecrets(t *testing.T) {
	exp := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	d := &labhooks.DataLink{ID: "dl_1", Secret: "current-secret-value", PreviousSecret: "previous-secret-value", PreviousSecretExpiresAt: &exp}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); strings.Contains(s, "current-secret-value") || strings.Contains(s, "previous-secret-value") {
		t.Fatalf("a data link's JSON carries its secrets: %s", s)
	}
	if !strings.Contains(string(b), `"previousSecretExpiresAt"`) {
		t.Fatalf("JSON lacks previousSecretExpiresAt: %s", b)
	}
}

func TestDataLinkUpdateApply(t *testing.T) {
	url, desc, names := "https://new.example/hook", "new", []string{"codeUsed"}
	off, on, reason := false, true, "failing for 5 days"
	d := &labhooks.DataLink{URL: "https://old.example", Description: "old", Enabled: true, Secret: "s", DisabledReason: reason}
	labhooks.DataLinkUpdate{URL: &url, Description: &desc, EventNames: &names, Enabled: &off}.Apply(d)
	if d.URL != url || d.Description != desc || !slices.Equal(d.EventNames, names) || d.Enabled || d.DisabledReason != reason || d.Secret != "s" {
		t.Fatalf("after Apply: %+v", d)
	}
	labhooks.DataLinkUpdate{}.Apply(d)
	if d.URL != url || d.Enabled || d.DisabledReason != reason {
		t.Fatalf("an empty update changed the link: %+v", d)
	}
	since := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	d.FailingSince = &since
	labhooks.DataLinkUpdate{Enabled: &on}.Apply(d)
	if !d.Enabled || d.DisabledReason != "" || d.FailingSince != nil {
		t.Fatalf("re-enabling keeps the reason or the failing run: %+v", d)
	}
	// Enabling a link that is enabled is no fresh start: its failing run
	// still counts.
	d.FailingSince = &since
	labhooks.DataLinkUpdate{Enabled: &on}.Apply(d)
	if d.FailingSince == nil || !d.FailingSince.Equal(since) {
		t.Fatalf("enabling an enabled link cleared its failing run: %+v", d)
	}
}

func TestFailingReason(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 30, 0, time.UTC)
	since := time.Date(2026, 11, 22, 11, 58, 0, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		status int
		err    string
		want   string
	}{
		{500, "HTTP 500", "since 2026-11-22 10:58 UTC (last: HTTP 500). Fix"},
		{0, "connection refused", "since 2026-11-22 10:58 UTC (last: connection refused). Fix"},
		{0, "", "since 2026-11-22 10:58 UTC. Fix"},
		{0, strings.Repeat("x", 300), strings.Repeat("x", 200) + "…). Fix"},
	}
	for _, tt := range tests {
		got := labhooks.FailingReason(now, since, tt.status, tt.err)
		if !strings.HasPrefix(got, "labhooks disabled this data link on 2026-11-27 12:00 UTC: every delivery attempt has failed") ||
			!strings.Contains(got, tt.want) || !strings.HasSuffix(got, "replay the deliveries that failed meanwhile.") {
			t.Errorf("FailingReason(%d, %q) = %q, want it to contain %q", tt.status, tt.err, got, tt.want)
		}
	}
}

func TestDataLinkRotate(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	d := &labhooks.DataLink{Secret: "old-secret"}
	if err := d.Rotate("old-secret", now, time.Hour); labhooks.ErrorCode(err) != labhooks.EInvalid || err.(*labhooks.Error).Field != "secret" {
		t.Fatalf("rotating to the same secret: %v", err)
	}
	if err := d.Rotate("new-secret", now, time.Hour); err != nil {
		t.Fatal(err)
	}
	if d.Secret != "new-secret" || d.PreviousSecret != "old-secret" || !d.PreviousSecretExpiresAt.Equal(now.Add(time.Hour)) || !d.UpdatedAt.Equal(now) {
		t.Fatalf("after a rotation with an overlap: %+v", d)
	}
	if got := d.Secrets(now.Add(time.Minute)); !slices.Equal(got, []string{"new-secret", "old-secret"}) {
		t.Fatalf("during the overlap both sign: %v", got)
	}
	if err := d.Rotate("newer-secret", now, 0); err != nil {
		t.Fatal(err)
	}
	if d.PreviousSecret != "" || d.PreviousSecretExpiresAt != nil {
		t.Fatalf("a rotation without overlap keeps the old secret: %+v", d)
	}
}

func TestDataLinkDisableForFailing(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	bound := now.Add(-5 * 24 * time.Hour)
	before, after := bound.Add(-time.Minute), bound.Add(time.Minute)
	tests := []struct {
		name    string
		link    labhooks.DataLink
		disable bool
	}{
		{"failing since before the bound", labhooks.DataLink{Enabled: true, FailingSince: &before}, true},
		{"failing since exactly the bound", labhooks.DataLink{Enabled: true, FailingSince: &bound}, true},
		{"failing since after the bound", labhooks.DataLink{Enabled: true, FailingSince: &after}, false},
		{"not failing", labhooks.DataLink{Enabled: true}, false},
		{"disabled already", labhooks.DataLink{Enabled: false, FailingSince: &before, DisabledReason: "by hand"}, false},
	}
	for _, tt := range tests {
		d := tt.link
		if got := d.FailedFor(bound); got != tt.disable {
			t.Errorf("%s: FailedFor = %v", tt.name, got)
		}
		got := d.DisableForFailing(now, bound, 503, "HTTP 503")
		if got != tt.disable {
			t.Errorf("%s: DisableForFailing = %v, want %v", tt.name, got, tt.disable)
		}
		switch {
		case got && (d.Enabled || !strings.Contains(d.DisabledReason, "(last: HTTP 503)") || !d.UpdatedAt.Equal(now)):
			t.Errorf("%s: disabled as %+v", tt.name, d)
		case !got && d.DisabledReason != tt.link.DisabledReason:
			t.Errorf("%s: left enabled, yet its reason changed: %q", tt.name, d.DisabledReason)
		}
	}
}

func TestValidateDescription(t *testing.T) {
	if err := labhooks.ValidateDescription(strings.Repeat("a", labhooks.MaxDescription)); err != nil {
		t.Fatal(err)
	}
	err := labhooks.ValidateDescription(strings.Repeat("a", labhooks.MaxDescription+1))
	if e, ok := err.(*labhooks.Error); !ok || e.Code != labhooks.EInvalid || e.Field != "description" {
		t.Fatalf("a long description: %v", err)
	}
}
