// Package signature signs and verifies labhooks webhook requests the
// Standard Webhooks way (https://www.standardwebhooks.com).
//
// A request carries three headers: webhook-id, webhook-timestamp (unix
// seconds) and webhook-signature, which holds one or more space-separated
// "v1,<base64 signature>" entries. Each signature is the HMAC-SHA256, keyed
// with a secret's key, of "<webhook-id>.<webhook-timestamp>.<body>". During a
// secret rotation both the old and the new secret sign, so the header holds
// two entries.
//
// A secret's key is its UTF-8 bytes, except for a secret that begins with
// "whsec_": that is the Standard Webhooks form, "whsec_" followed by the
// standard base64 encoding of the key. So "mysecret" and its whsec_ form
// "whsec_bXlzZWNyZXQ=" are the same key, and a partner may give either to an
// official Standard Webhooks library or to this package.
//
// The package imports only the standard library. testdata/vectors.json holds
// signing test vectors that the server, the Go receiver kit and the other
// languages' examples are all tested against.
package signature
