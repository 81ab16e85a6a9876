package delivery

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
)

// rawReceiver is a TCP server on 127.0.0.1 that reads each request's head and
// lets answer write whatever bytes it likes on the connection.
func rawReceiver(t *testing.T, answer func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if line == "\r\n" {
						break
					}
				}
				answer(c)
			})
		}
	})
	return "http://" + ln.Addr().String() + "/hook"
}

// hugeHeaders answers 200 with about 10 MB of headers: under net/http's own
// default bound of 10 MiB, so only MaxResponseHeaderBytes stops it.
func hugeHeaders(c net.Conn) {
	w := bufio.NewWriterSize(c, 64<<10)
	w.WriteString("HTTP/1.1 200 OK\r\n")
	line := "X-Padding-%05d: " + strings.Repeat("a", 1000) + "\r\n"
	for i := range 9_900 {
		if _, err := fmt.Fprintf(w, line, i); err != nil {
			return // the sender stopped reading and closed the connection
		}
	}
	w.WriteString("Content-Length: 2\r\n\r\nok")
	w.Flush()
}

// TestEngineHugeResponseHeadersStayBounded: many attempts answered with
// ~10 MB of headers each are recorded as failures that say why, and the
// memory labhooks takes for them stays bounded (MaxResponseHeaderBytes),
// where reading them whole would take 32 × 10 MB. Not parallel: it
// measures the process's allocations.
func TestEngineHugeResponseHeadersStayBounded(t *testing.T) {
	b := setupEngine(t)
	url := rawReceiver(t, hugeHeaders)
	p := b.partner(t)
	const attempts = 32
	for range attempts {
		b.link(t, p, url)
	}
	ids := []string{}
	for _, d := range b.emit(t, p, 1) {
		ids = append(ids, d.ID)
	}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	b.start(t, EngineConfig{Policy: fastPolicy(time.Hour), MaxInFlight: attempts, PerDataLink: attempts})
	for _, id := range ids {
		var d *labhooks.Delivery
		waitFor(t, "the attempt to be recorded", func() bool {
			d = b.delivery(t, id)
			return d.AttemptCount == 1
		})
		d, err := b.store.Delivery(t.Context(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != labhooks.DeliveryPending || len(d.Attempts) != 1 || d.Attempts[0].StatusCode != 0 ||
			!strings.Contains(d.Attempts[0].Error, "headers exceeded 16 KiB") {
			t.Errorf("delivery %s is %s after %d attempts (first: %+v); want one failed attempt that says the headers exceeded 16 KiB",
				d.ID, d.Status, len(d.Attempts), d.Attempts[0])
			break
		}
	}
	close(stop)
	<-sampled
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	grew := int64(peak.Load()) - int64(before.HeapInuse)
	t.Logf("%d attempts: %d MiB allocated, heap in use grew by at most %d MiB", attempts, allocated>>20, grew>>20)
	// Reading the headers whole would allocate over 300 MB; the bound
	// leaves each attempt tens of KiB. Generous for the race detector.
	const bound = 64 << 20
	if allocated > bound {
		t.Errorf("%d attempts allocated %d MiB; want under %d MiB", attempts, allocated>>20, bound>>20)
	}
	if grew > bound {
		t.Errorf("the heap grew by %d MiB during %d attempts; want under %d MiB", grew>>20, attempts, bound>>20)
	}
}

// TestSendBodyCutAfter2xx: a 2xx whose body is cut off (the connection
// closes before the Content-Length is reached) is a success by its status,
// and the attempt notes the cut; a 500 cut off is a failure as before.
func TestSendBodyCutAfter2xx(t *testing.T) {
	t.Parallel()
	for _, status := range []int{200, 500} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			url := rawReceiver(t, func(c net.Conn) {
				fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Length: 100\r\n\r\npartial", status, http.StatusText(status))
			})
			res := send(t, loopbackSender(SenderConfig{Timeout: 5 * time.Second}), url)
			if res.StatusCode != status || res.ResponseBody != "partial" {
				t.Fatalf("Send = %+v", res)
			}
			if status == 500 {
				if res.OK() || res.Err == nil {
					t.Fatalf("a cut-off 500 = %+v; want a failure", res)
				}
				return
			}
			if !res.OK() || res.Cut == nil {
				t.Fatalf("a cut-off 200 = %+v; want a success with the cut noted", res)
			}
			if got := res.Summary(); got != "HTTP 200 (success by status; the body was cut off: the connection closed)" {
				t.Fatalf("Summary = %q", got)
			}
		})
	}
}

// TestEngineRecordsCutBodyAsNotedSuccess: the engine records the cut-off 2xx
// as a success, with the note in the attempt.
func TestEngineRecordsCutBodyAsNotedSuccess(t *testing.T) {
	t.Parallel()
	b := setupEngine(t)
	url := rawReceiver(t, func(c net.Conn) {
		io.WriteString(c, "HTTP/1.1 202 Accepted\r\nContent-Length: 50\r\n\r\nqueued")
	})
	p := b.partner(t)
	b.link(t, p, url)
	id := b.emit(t, p, 1)[0].ID
	b.start(t, EngineConfig{Policy: fastPolicy(time.Minute)})
	b.waitStatus(t, id, labhooks.DeliverySucceeded)
	d, err := b.store.Delivery(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Attempts) != 1 || d.Attempts[0].StatusCode != 202 || d.Attempts[0].ResponseBody != "queued" ||
		!strings.Contains(d.Attempts[0].Error, "success by status; the body was cut off") {
		t.Fatalf("attempts = %+v", d.Attempts)
	}
}

// echoHeaders is a receiver that answers with every request header it got,
// as some debugging endpoints do.
func echoHeaders(prefix string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, prefix)
		r.Header.Write(w)
	}
}

// TestEngineKeepsSecretsOutOfTheAttemptLog: a receiver that echoes the
// request's headers gets no secret of the link stored: neither the current
// nor the previous one, also when one straddles the excerpt's end.
func TestEngineKeepsSecretsOutOfTheAttemptLog(t *testing.T) {
	t.Parallel()
	for _, pad := range []int{0, labhooks.MaxResponseBody - len("X-Api-Key: ") - 10} {
		t.Run(fmt.Sprint(pad), func(t *testing.T) {
			t.Parallel()
			b := setupEngine(t)
			// The padding sorts the x-api-key header across the excerpt's end.
			srv := httptestServer(t, echoHeaders(strings.Repeat(".", pad)))
			p := b.partner(t)
			d := b.link(t, p, srv.URL)
			old := d.Secret
			now := time.Now()
			d, err := b.store.UpdateDataLink(t.Context(), d.ID, func(d *labhooks.DataLink) error {
				return d.Rotate(labhooks.GenerateSecret(), now, time.Hour)
			})
			if err != nil {
				t.Fatal(err)
			}
			id := b.emit(t, p, 1)[0].ID
			b.start(t, EngineConfig{Policy: fastPolicy(time.Minute)})
			b.waitStatus(t, id, labhooks.DeliverySucceeded)
			got, err := b.store.Delivery(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			body := got.Attempts[0].ResponseBody
			for _, secret := range []string{d.Secret, old} {
				for n := 6; n <= len(secret); n++ {
					if strings.Contains(body, secret[:n]) {
						t.Fatalf("the stored excerpt holds %d bytes of a secret: %q", n, body)
					}
				}
			}
			if pad == 0 && !strings.Contains(body, "X-Api-Key: "+redactedMark) {
				t.Fatalf("the excerpt does not show the redacted key: %q", body)
			}
		})
	}
}

// TestRedact: every occurrence of each secret goes; a cut excerpt loses a
// tail that begins a secret; an uncut one keeps all else.
func TestRedact(t *testing.T) {
	t.Parallel()
	secrets := []string{"SECRET-one-0123456789", "SECRET-two-9876543210"}
	if got := redact([]byte("a SECRET-one-0123456789 b SECRET-two-9876543210 c SECRET-one-0123456789"), secrets, false); got != "a [redacted] b [redacted] c [redacted]" {
		t.Errorf("redact = %q", got)
	}
	if got := redact([]byte("ends with SECRET-"), secrets, false); got != "ends with SECRET-" {
		t.Errorf("an uncut answer lost its tail: %q", got)
	}
	if got := redact([]byte("cut at SECRET-tw"), secrets, true); got != "cut at " {
		t.Errorf("a cut answer kept the start of a secret: %q", got)
	}
	long := strings.Repeat("x", labhooks.MaxResponseBody-5) + "SECRET-one-0123456789" + strings.Repeat("y", 100)
	if got := redact([]byte(long), secrets, false); strings.Contains(got, "SECRET") || len(got) > labhooks.MaxResponseBody {
		t.Errorf("a secret across the excerpt's end: %q", got[len(got)-20:])
	}
}
