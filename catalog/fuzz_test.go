package catalog

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/labhooks/labhooks"
)

func FuzzValidate(f *testing.F) {
	c := newCatalog(f)
	for _, et := range Builtin() {
		f.Add(et.Name, []byte(parseBody(f, et.Example).Data))
	}
	for name := range seedExamples {
		f.Add(name, seedData(f, name))
	}
	f.Add("appointmentCreated", []byte(appointment+`,"paymentMethod":"+39 000 000000"}`))
	f.Add("patientUpdated", []byte(`{"patientId":1,"userId":1,"userId":2}`))
	f.Add("nope", []byte(`{}`))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		out, err := c.Validate(name, data)
		if err != nil {
			if out != nil {
				t.Fatalf("refused data returned %q", out)
			}
			if code := labhooks.ErrorCode(err); code != labhooks.EInvalid && code != labhooks.EPersonalData {
				t.Fatalf("unexpected code %s: %v", code, err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("accepted data is not valid JSON: %q", out)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, out); err != nil || !bytes.Equal(compact.Bytes(), out) {
			t.Fatalf("accepted data is not compact: %q", out)
		}
		again, err := c.Validate(name, out)
		if err != nil {
			t.Fatalf("accepted data %q is refused the second time: %v", out, err)
		}
		if !bytes.Equal(again, out) {
			t.Fatalf("second validation changed %q into %q", out, again)
		}
	})
}

func BenchmarkValidate(b *testing.B) {
	c := newCatalog(b)
	for _, name := range []string{"appointmentCreated", "sampleUpdated", "dataShareAccepted"} {
		data := seedData(b, name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := c.Validate(name, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
