// Package signature signs and verifies pathhook webhook deliveries. It uses
// only the standard library, so that any Go receiver can import it.
package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"time"
)

// Prefix starts every value of the <Platform>-Webhook-Signature header.
const Prefix = "sha256="

// Sign returns the <Platform>-Webhook-Signature header value of body under
// secret: "sha256=" and the lowercase hex HMAC-SHA256 of the raw body.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return Prefix + hex.EncodeToString(m.Sum(nil))
}

// SignStandard returns one Standard Webhooks signature, "v1," and the
// base64 HMAC-SHA256 of "id.timestamp.body", keyed with the secret's bytes.
func SignStandard(secret []byte, id string, ts time.Time, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write(strconv.AppendInt(nil, ts.Unix(), 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}
