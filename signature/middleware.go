package signature

import (
	"bytes"
	"errors"
	"io"
	"net/http"
)

// MaxBodySize is the largest body Middleware reads, in bytes. Deliveries
// are far smaller; the limit keeps a stranger from filling the receiver's
// memory before the signature is checked.
const MaxBodySize = 5 << 20

// Middleware returns a handler that verifies each request as a delivery
// from platform (VerifyHeader: the <Platform>-Webhook-Signature header, or
// during a rotation <Platform>-Webhook-Signature-Previous) before calling
// next. A request that fails gets 401 with a short plain-text reason, such
// as "signature mismatch", and never reaches next; a body over MaxBodySize
// gets 413. next reads the same body from r.Body, byte for byte.
//
// Middleware panics if secret is empty, since a receiver without a secret
// would verify nothing.
func Middleware(platform string, secret []byte, next http.Handler) http.Handler {
	if len(secret) == 0 {
		panic("signature: Middleware needs a non-empty secret")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodySize))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		if err := VerifyHeader(platform, secret, r.Header, body); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}
