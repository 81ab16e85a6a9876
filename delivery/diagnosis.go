package delivery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/labhooks/labhooks"
)

// failure is a class of transport error, with a short summary for the
// attempt record.
type failure struct {
	kind    string
	summary string
}

// kindOf classifies an error from Sender.Send.
func kindOf(err error) failure {
	var blocked *BlockedError
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var recordErr tls.RecordHeaderError
	var alert tls.AlertError
	switch {
	case errors.As(err, &blocked):
		return failure{"blocked", blocked.Error()}
	case strings.Contains(err.Error(), "server response headers exceeded"):
		// net/http's own error, which has no type to match.
		return failure{"headers", fmt.Sprintf("the answer's headers exceeded %d KiB; labhooks stopped reading them", labhooks.MaxResponseHeaderBytes>>10)}
	case errors.As(err, &dnsErr):
		return failure{"dns", "DNS lookup failed for " + dnsErr.Name}
	case errors.Is(err, syscall.ECONNREFUSED):
		return failure{"refused", "connection refused"}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), isTimeout(err):
		return failure{"timeout", "timed out"}
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr),
		errors.As(err, &invalidCert), errors.As(err, &recordErr), errors.As(err, &alert):
		return failure{"tls", "TLS error: " + innermost(err)}
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return failure{"reset", "connection closed without an answer"}
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return failure{"unreachable", "host unreachable"}
	default:
		return failure{"other", innermost(err)}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// innermost strips the url.Error wrapper, whose method and URL add nothing
// the partner does not already know.
func innermost(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// Diagnose says in plain words what a result means for the partner and what
// to do about it; timeout is the per-attempt timeout that was in force.
func Diagnose(r *Result, timeout time.Duration) string {
	if r.Err != nil {
		return diagnoseError(r.Err, timeout)
	}
	code := r.StatusCode
	status := fmt.Sprintf("%d %s", code, http.StatusText(code))
	switch {
	case r.OK():
		return fmt.Sprintf("Success: your receiver answered %s in %d ms.", status, r.Duration.Milliseconds())
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return fmt.Sprintf("The receiver rejected the x-api-key (%s): check the secret — your receiver must expect exactly this data link's secret.", status)
	case code >= 300 && code < 400:
		where := "another address"
		if r.Location != "" {
			where = r.Location
		}
		return fmt.Sprintf("The receiver redirected to %s (%s); labhooks does not follow redirects, so that the event and its secret go only where you said. Set the data link's URL to the final address.", where, status)
	case code == http.StatusGone:
		return fmt.Sprintf("The receiver answered %s, which says this address will never take webhooks again: a delivery answered so disables the data link at once. Point the link at a working receiver.", status)
	case code == http.StatusNotFound || code == http.StatusMethodNotAllowed:
		return fmt.Sprintf("The receiver answered %s: check the URL's path, and that it accepts POST requests.", status)
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		return fmt.Sprintf("The receiver is busy (%s); labhooks will retry, honouring its Retry-After.", status)
	case code >= 500:
		return fmt.Sprintf("The receiver failed with %s: look at its logs. Deliveries are retried on this answer.", status)
	default:
		return fmt.Sprintf("The receiver refused the event with %s: it must answer with a 2xx status once it has the event.", status)
	}
}

func diagnoseError(err error, timeout time.Duration) string {
	f := kindOf(err)
	switch f.kind {
	case "blocked":
		return fmt.Sprintf("labhooks %s. Data links must point to a public address; a development server can allow private targets with --allow-private-targets.", f.summary)
	case "dns":
		return "The host name could not be resolved (DNS): check the URL's spelling, and that the name is published in public DNS."
	case "refused":
		return "Connection refused: nothing is listening at that host and port. Check the port in the URL and that your receiver is running."
	case "timeout":
		return fmt.Sprintf("Timeout: the receiver did not answer within %s. Answer with 200 first and do slow work (saving to a database, calling other services) afterwards.", timeout)
	case "tls":
		return fmt.Sprintf("TLS error (%s): the receiver needs a valid, unexpired certificate for the URL's host name, issued by a public authority.", innermost(err))
	case "reset":
		return "The receiver closed the connection without answering: check its logs for a crash while handling the request."
	case "headers":
		return fmt.Sprintf("The receiver answered with more than %d KiB of headers, which labhooks does not read: answer with a short status line and headers.", labhooks.MaxResponseHeaderBytes>>10)
	case "unreachable":
		return "The host is unreachable from labhooks: check that the address is public and that no firewall blocks it."
	default:
		return "The request failed before any answer: " + f.summary + "."
	}
}
