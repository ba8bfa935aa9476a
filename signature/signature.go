// Package signature signs and verifies pathhook webhook deliveries. It uses
// only the standard library, so that any Go receiver can import it.
//
// Every delivery carries two kinds of signature over the raw body:
//
//   - <Platform>-Webhook-Signature: "sha256=" and the lowercase hex
//     HMAC-SHA256 of the body, keyed with the webhook's secret (Sign, Verify,
//     Middleware). During a secret rotation, <Platform>-Webhook-Signature-Previous
//     carries the same under the previous secret, so that a receiver that
//     still holds the old secret keeps accepting deliveries.
//   - The Standard Webhooks headers webhook-id, webhook-timestamp and
//     webhook-signature (SignStandard, VerifyStandard), which add replay
//     protection and which any Standard Webhooks library verifies.
package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
)

// Prefix starts every value of the <Platform>-Webhook-Signature header.
const Prefix = "sha256="

// HeaderName returns the name of the header that carries the signature of a
// delivery from platform: "<Platform>-Webhook-Signature", for example
// "Falkor-Webhook-Signature".
func HeaderName(platform string) string {
	return platform + "-Webhook-Signature"
}

// PreviousHeaderName returns the name of the header that carries, during a
// secret rotation, the signature under the previous secret:
// "<Platform>-Webhook-Signature-Previous". It is absent outside rotations.
func PreviousHeaderName(platform string) string {
	return HeaderName(platform) + "-Previous"
}

// Sign returns the <Platform>-Webhook-Signature header value of body under
// secret: "sha256=" and the lowercase hex HMAC-SHA256 of the raw body.
func Sign(secret, body []byte) string {
	return Prefix + hex.EncodeToString(mac(secret, body))
}

// Verify reports, as a nil error, whether header is a valid
// <Platform>-Webhook-Signature value of body under secret. It accepts
// exactly "sha256=" and 64 lowercase hex digits and compares in constant
// time. The error matches ErrNoSecret, ErrMissing, ErrMalformed or
// ErrMismatch with errors.Is.
//
// body must be the raw request body, byte for byte: a body that was decoded
// and encoded again as JSON no longer matches.
func Verify(secret, body []byte, header string) error {
	if len(secret) == 0 {
		return ErrNoSecret
	}
	if header == "" {
		return ErrMissing
	}
	got, ok := parseSHA256(header)
	if !ok {
		return fmt.Errorf("%w: want %q and 64 lowercase hex digits", ErrMalformed, Prefix)
	}
	if !hmac.Equal(got, mac(secret, body)) {
		return ErrMismatch
	}
	return nil
}

// VerifyHeader verifies the signature headers of a delivery from platform
// in h against body under secret: it accepts a valid
// <Platform>-Webhook-Signature, or, during a rotation, a valid
// <Platform>-Webhook-Signature-Previous (the receiver still holds the old
// secret). The error is that of the main header unless only the previous
// one is present.
func VerifyHeader(platform string, secret []byte, h http.Header, body []byte) error {
	main, prev := h.Get(HeaderName(platform)), h.Get(PreviousHeaderName(platform))
	err := Verify(secret, body, main)
	if err == nil || prev == "" {
		return err
	}
	errPrev := Verify(secret, body, prev)
	if errPrev == nil || main == "" {
		return errPrev
	}
	return err
}

func mac(secret, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return m.Sum(nil)
}

// parseSHA256 decodes "sha256=<64 lowercase hex>", refusing uppercase so
// that one signature has exactly one spelling.
func parseSHA256(header string) ([]byte, bool) {
	if len(header) != len(Prefix)+2*sha256.Size || header[:len(Prefix)] != Prefix {
		return nil, false
	}
	digits := header[len(Prefix):]
	for i := 0; i < len(digits); i++ {
		if c := digits[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return nil, false
		}
	}
	b, err := hex.DecodeString(digits)
	return b, err == nil
}
