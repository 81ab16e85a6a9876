package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// The labhooks- headers a delivery carries beside the Standard Webhooks ones:
// what the event is, when it occurred, and where it stands among the events
// about the same entity. webhook-signature stays exactly the Standard
// Webhooks signature (id.timestamp.body); these headers have their own,
// HeaderMetaSignature, bound to webhook-id and webhook-timestamp and so,
// through webhook-signature, to the body.
const (
	// HeaderEventID is the event's ID: the same in every delivery of the
	// event, to every data link and through the pull feed.
	HeaderEventID = "labhooks-event-id"
	// HeaderOccurredAt is when the event occurred, RFC 3339 in UTC.
	HeaderOccurredAt = "labhooks-occurred-at"
	// HeaderEntity is the key of the entity the event is about, such as
	// "appointment:apt_123"; absent when the event names none.
	HeaderEntity = "labhooks-entity"
	// HeaderSequence is the event's number among the events about its
	// entity: 1, 2, 3… in the order labhooks accepted them; absent with
	// HeaderEntity.
	HeaderSequence = "labhooks-sequence"
	// HeaderMetaSignature signs the four headers above: "v1,<base64>" per
	// secret, space-separated, as webhook-signature.
	HeaderMetaSignature = "labhooks-signature"
)

// metaDomain starts the signed content of HeaderMetaSignature, so that it
// can never be mistaken for the content of a webhook-signature.
const metaDomain = "labhooks-meta-v1"

// Meta is the labhooks- headers of a delivery as they travel: strings, so
// that what is verified is exactly what was received.
type Meta struct {
	EventID, OccurredAt, Entity, Sequence string
}

// metaContent is what HeaderMetaSignature signs: the fields joined by newlines,
// which no header value can hold, so no two Metas sign the same content.
func metaContent(id, timestamp string, m Meta) []byte {
	b := make([]byte, 0, len(metaDomain)+len(id)+len(timestamp)+len(m.EventID)+len(m.OccurredAt)+len(m.Entity)+len(m.Sequence)+6)
	b = append(b, metaDomain...)
	for _, v := range [...]string{id, timestamp, m.EventID, m.OccurredAt, m.Entity, m.Sequence} {
		b = append(append(b, '\n'), v...)
	}
	return b
}

// SignMeta returns the HeaderMetaSignature value of m in the delivery whose
// webhook-id is id and webhook-timestamp timestamp.
func (s *Signer) SignMeta(id string, timestamp int64, m Meta) string {
	content := metaContent(id, strconv.FormatInt(timestamp, 10), m)
	var b strings.Builder
	var sum [sha256.Size]byte
	var enc [44]byte
	for i := range s.keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		base64.StdEncoding.Encode(enc[:], s.macBytes(i, content, sum[:0]))
		b.WriteString("v1,")
		b.Write(enc[:])
	}
	return b.String()
}

// SignMeta is Signer.SignMeta with secrets. The error wraps ErrInvalidSecret.
func SignMeta(secrets []string, id string, timestamp int64, m Meta) (string, error) {
	s, err := newSigner(secrets, false)
	if err != nil {
		return "", err
	}
	return s.SignMeta(id, timestamp, m), nil
}

// VerifyMeta checks signatureHeader (HeaderMetaSignature) against m and the
// webhook-id and webhook-timestamp headers exactly as received. Call it with
// headers whose webhook-signature Verify accepted: that checks the timestamp
// and binds the body. The error wraps ErrMissingHeaders or
// ErrNoMatchingSignature.
func (s *Signer) VerifyMeta(id, timestamp string, m Meta, signatureHeader string) error {
	if signatureHeader == "" {
		return fmt.Errorf("%w: %s", ErrMissingHeaders, HeaderMetaSignature)
	}
	var sigs [][]byte
	for _, entry := range strings.Fields(signatureHeader) {
		if sig, ok := strings.CutPrefix(entry, "v1,"); ok {
			sigs = append(sigs, []byte(sig))
		}
	}
	if len(sigs) == 0 {
		return fmt.Errorf("%w: %s holds no v1 signature", ErrNoMatchingSignature, HeaderMetaSignature)
	}
	content := metaContent(id, timestamp, m)
	var sum [sha256.Size]byte
	var want [44]byte
	matched := false
	for i := range s.keys {
		base64.StdEncoding.Encode(want[:], s.macBytes(i, content, sum[:0]))
		for _, sig := range sigs {
			if hmac.Equal(sig, want[:]) {
				matched = true
			}
		}
	}
	if !matched {
		return fmt.Errorf("%w: %s matches no secret: a labhooks- header was changed on the way", ErrNoMatchingSignature, HeaderMetaSignature)
	}
	return nil
}

// VerifyMeta is Signer.VerifyMeta with secrets.
func VerifyMeta(secrets []string, id, timestamp string, m Meta, signatureHeader string) error {
	s, err := newSigner(secrets, false)
	if err != nil {
		return err
	}
	return s.VerifyMeta(id, timestamp, m, signatureHeader)
}

// macBytes appends to dst the HMAC of content under secret i.
func (s *Signer) macBytes(i int, content, dst []byte) []byte {
	if s.pools == nil {
		h := hmac.New(sha256.New, s.keys[i])
		h.Write(content)
		return h.Sum(dst)
	}
	h := s.pools[i].Get().(hash.Hash)
	defer s.pools[i].Put(h)
	h.Reset()
	h.Write(content)
	return h.Sum(dst)
}
