package signature

import "errors"

// Errors of verification; match them with errors.Is, since some are wrapped
// with detail. Their texts are short enough to answer a sender with.
var (
	// ErrNoSecret means the receiver has no secret to verify with: an empty
	// secret would let anyone sign, so it never verifies anything.
	ErrNoSecret = errors.New("signature: no secret configured")
	// ErrMissing means the request carries no signature (or, for Standard
	// Webhooks, lacks one of webhook-id, webhook-timestamp, webhook-signature).
	ErrMissing = errors.New("signature missing")
	// ErrMalformed means a signature header is present but not in the
	// expected form.
	ErrMalformed = errors.New("signature malformed")
	// ErrMismatch means the signature is well formed but not that of the
	// body under the secret: wrong secret, or a body changed on the way.
	ErrMismatch = errors.New("signature mismatch")
	// ErrTimestamp means a Standard Webhooks timestamp is too far from now:
	// a replayed or badly delayed message.
	ErrTimestamp = errors.New("signature timestamp outside tolerance")
)
