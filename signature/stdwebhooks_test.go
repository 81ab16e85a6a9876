package signature_test

import (
	"crypto/rand"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/labhooks/labhooks/signature"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// TestStandardWebhooksLibrary cross-checks this package against the official
// Standard Webhooks Go library, both ways: what one signs, the other verifies,
// for raw secrets (through their whsec_ form) and whsec_ ones, alone and
// during a rotation.
func TestStandardWebhooksLibrary(t *testing.T) {
	body := []byte(`{"eventName":"sampleReceived","data":{"dashboardUrl":"https://dashboard.daslab.app/labs/1/samples/9","sampleId":9,"appointmentId":7,"locationId":3}}`)
	secrets := []string{"mysecretkey", "sécret-ключ-🔑", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", rand.Text(), rand.Text() + rand.Text() + rand.Text()}
	for i, secret := range secrets {
		whsec, err := signature.WhsecForm(secret)
		if err != nil {
			t.Fatal(err)
		}
		wh, err := standardwebhooks.NewWebhook(whsec)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		id := "dlv_" + strconv.Itoa(i)

		ours, err := signature.Sign([]string{secret}, id, now.Unix(), body)
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := wh.Sign(id, now, body)
		if err != nil {
			t.Fatal(err)
		}
		if ours != theirs {
			t.Errorf("secret %d: Sign = %q, the official library signs %q", i, ours, theirs)
		}

		rotated, err := signature.Sign([]string{"the-other-secret-of-a-rotation", secret}, id, now.Unix(), body)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range []string{ours, rotated} {
			hdr := http.Header{}
			hdr.Set("webhook-id", id)
			hdr.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
			hdr.Set("webhook-signature", h)
			if err := wh.Verify(body, hdr); err != nil {
				t.Errorf("secret %d: the official library rejects %q: %v", i, h, err)
			}
		}
		if err := signature.Verify([]string{whsec}, id, strconv.FormatInt(now.Unix(), 10), theirs, body, now, 0); err != nil {
			t.Errorf("secret %d: Verify rejects the official library's signature: %v", i, err)
		}
	}
}
