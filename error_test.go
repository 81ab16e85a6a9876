package labhooks_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/labhooks/labhooks"
)

func TestErrorCodeAndMessage(t *testing.T) {
	notFound := labhooks.Errorf(labhooks.ENotFound, "partner %s not found", "ptn_1")
	tests := []struct {
		name     string
		err      error
		wantCode string
		wantMsg  string
	}{
		{"nil", nil, "", ""},
		{"plain error", errors.New("disk on fire: /var/lib/x"), labhooks.EInternal, "internal error"},
		{"*Error", notFound, labhooks.ENotFound, "partner ptn_1 not found"},
		{"wrapped *Error", fmt.Errorf("loading: %w", notFound), labhooks.ENotFound, "partner ptn_1 not found"},
		{"twice wrapped", fmt.Errorf("a: %w", fmt.Errorf("b: %w", labhooks.Errorf(labhooks.EWeakSecret, "weak"))), labhooks.EWeakSecret, "weak"},
		{"joined", errors.Join(errors.New("other"), labhooks.Errorf(labhooks.EConflict, "taken")), labhooks.EConflict, "taken"},
		{"wrapped plain error", fmt.Errorf("x: %w", errors.New("secret detail")), labhooks.EInternal, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := labhooks.ErrorCode(tt.err); got != tt.wantCode {
				t.Errorf("ErrorCode = %q, want %q", got, tt.wantCode)
			}
			if got := labhooks.ErrorMessage(tt.err); got != tt.wantMsg {
				t.Errorf("ErrorMessage = %q, want %q", got, tt.wantMsg)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	err := labhooks.Errorf(labhooks.EInvalid, "url: %q has no host", "https://")
	if err.Code != labhooks.EInvalid || err.Message != `url: "https://" has no host` {
		t.Fatalf("Errorf = %+v", err)
	}
	if got, want := err.Error(), `labhooks: invalid: url: "https://" has no host`; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	// A message with a percent sign and no arguments is kept as it is.
	if got := labhooks.Errorf(labhooks.EInvalid, "100%% sure").Message; got != "100% sure" {
		t.Fatalf("Message = %q", got)
	}
}

func TestFieldErrorf(t *testing.T) {
	err := labhooks.FieldErrorf(labhooks.EInvalid, "url", "%q has no host", "https://")
	if err.Field != "url" || err.Message != `url: "https://" has no host` || err.Detail() != `"https://" has no host` {
		t.Fatalf("FieldErrorf = %+v, Detail %q", err, err.Detail())
	}
	plain := labhooks.Errorf(labhooks.EConflict, "url: taken")
	if plain.Detail() != "url: taken" {
		t.Fatalf("Detail of an error about no field trims: %q", plain.Detail())
	}
	b, _ := json.Marshal(err)
	if string(b) != `{"code":"invalid","field":"url","message":"url: \"https://\" has no host"}` {
		t.Fatalf("JSON: %s", b)
	}
}
