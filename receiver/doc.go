// Package receiver is labhooks' receiver kit for partners: it verifies that a
// request comes from labhooks, parses the event into a typed struct,
// de-duplicates on webhook-id and stores each event once.
//
// It imports only the standard library (and labhooks' signature package,
// which does too), so a partner's program can import it without taking on
// labhooks' own dependencies. Its subpackage store keeps events in SQLite or
// PostgreSQL; `labhooks receive` is this package and that store as a ready
// server.
//
// # What labhooks sends
//
// Each event is one POST with a JSON body {"eventName": "…", "data": {…}} and
// these headers:
//
//	x-api-key:         the data link's secret
//	webhook-id:        the delivery's id, the same on every retry
//	webhook-timestamp: unix seconds of this attempt
//	webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">
//
// The signature follows the Standard Webhooks specification; during a secret
// rotation the header holds two signatures, one per secret. A Verifier built
// with both secrets accepts either. A secret beginning with "whsec_" is read
// in the Standard Webhooks form (base64 of the key); any other secret's key is
// its UTF-8 bytes.
//
// # Use
//
// The simplest receiver:
//
//	v, err := receiver.NewVerifier(os.Getenv("WEBHOOK_SECRET"))
//	if err != nil { … }
//	h := &receiver.Handler{
//		Verifier: v,
//		Store:    myStore, // a receiver.Store, e.g. store.Open(ctx, "events.db")
//		OnEvent: func(ctx context.Context, e *receiver.Event) error {
//			switch d := e.Data.(type) {
//			case *receiver.AppointmentData:
//				// e.Name is appointmentCreated, …Updated, …Cancelled or …Completed
//				_ = d.AppointmentID
//			case *receiver.DataDeletionRequestData:
//				// comply with the GDPR request for d.UserID
//			}
//			return nil
//		},
//	}
//	http.Handle("POST /hook", h)
//
// The Handler answers 200 only once the event is stored, so labhooks retries
// (with the same webhook-id) any event whose storing or handling failed.
// A server that wants to do the storing itself can use Verifier.Verify and
// Parse directly.
//
// Events whose names are not in this package's catalog (types an admin added
// after this version) are accepted with their data as RawData, unless
// Handler.RejectUnknown is set.
package receiver
