package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks headers (https://www.standardwebhooks.com) that
// every delivery carries beside its <Platform>-Webhook-* headers.
const (
	// StandardHeaderID holds the event id, the same on every attempt.
	StandardHeaderID = "webhook-id"
	// StandardHeaderTimestamp holds the Unix time (seconds) of the attempt.
	StandardHeaderTimestamp = "webhook-timestamp"
	// StandardHeaderSignature holds space-separated "v1,<base64>"
	// signatures, one per secret valid at the time of the attempt.
	StandardHeaderSignature = "webhook-signature"
)

// StandardSecretPrefix starts the form of a secret that Standard Webhooks
// libraries take: "whsec_" and the base64 of the secret's bytes.
const StandardSecretPrefix = "whsec_"

// DefaultTolerance is how far a Standard Webhooks timestamp may be from the
// receiver's clock, either way, when VerifyStandard is given no tolerance.
// It is the value the Standard Webhooks libraries use.
const DefaultTolerance = 5 * time.Minute

// SignStandard returns one Standard Webhooks signature, "v1," and the
// base64 HMAC-SHA256 of "id.timestamp.body", keyed with the secret's bytes.
func SignStandard(secret []byte, id string, ts time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(standardMAC(secret, id, strconv.FormatInt(ts.Unix(), 10), body))
}

// VerifyStandard reports, as a nil error, whether a message carries a
// valid Standard Webhooks signature: id, timestamp and sigHeader are the
// values of the webhook-id, webhook-timestamp and webhook-signature
// headers, body the raw body. sigHeader is a space-separated list of
// "v1,<base64>" signatures (other versions are ignored); one that matches
// any of secrets is enough, which is how a receiver verifies across a
// secret rotation. A timestamp further than tolerance from now, either way,
// is refused with ErrTimestamp, so that a captured message cannot be
// replayed later; tolerance <= 0 means DefaultTolerance. Comparisons run in
// constant time. The error matches ErrNoSecret, ErrMissing, ErrMalformed,
// ErrTimestamp or ErrMismatch with errors.Is.
func VerifyStandard(secrets [][]byte, id, timestamp, sigHeader string, body []byte, now time.Time, tolerance time.Duration) error {
	if !anySecret(secrets) {
		return ErrNoSecret
	}
	if id == "" || timestamp == "" || sigHeader == "" {
		return ErrMissing
	}
	unix, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s is not a Unix time in seconds", ErrMalformed, StandardHeaderTimestamp)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if sent := time.Unix(unix, 0); now.Sub(sent) > tolerance || sent.Sub(now) > tolerance {
		return ErrTimestamp
	}
	sigs := parseStandardSignatures(sigHeader)
	if len(sigs) == 0 {
		return fmt.Errorf("%w: no v1 signature in %s", ErrMalformed, StandardHeaderSignature)
	}
	for _, secret := range secrets {
		if len(secret) == 0 {
			continue
		}
		// The raw header value is signed, not a reformatted number, so
		// that a sender's spelling of the timestamp cannot break the match.
		want := standardMAC(secret, id, timestamp, body)
		for _, sig := range sigs {
			if hmac.Equal(want, sig) {
				return nil
			}
		}
	}
	return ErrMismatch
}

// ParseStandardSecret returns the secret bytes of a secret in the form
// Standard Webhooks libraries take, "whsec_" and base64; like those
// libraries it also takes the base64 alone. The error matches ErrMalformed.
func ParseStandardSecret(s string) ([]byte, error) {
	b64 := strings.TrimPrefix(s, StandardSecretPrefix)
	secret, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		secret, err = base64.RawStdEncoding.DecodeString(b64)
	}
	if err != nil || len(secret) == 0 {
		return nil, fmt.Errorf("%w: a Standard Webhooks secret is %q and base64", ErrMalformed, StandardSecretPrefix)
	}
	return secret, nil
}

func standardMAC(secret []byte, id, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// parseStandardSignatures decodes the v1 entries of a webhook-signature
// value, skipping other versions and undecodable entries as the Standard
// Webhooks libraries do, so that a sender can add new schemes later.
func parseStandardSignatures(header string) [][]byte {
	var sigs [][]byte
	for _, entry := range strings.Fields(header) {
		version, b64, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(sig) != sha256.Size {
			continue
		}
		sigs = append(sigs, sig)
	}
	return sigs
}

func anySecret(secrets [][]byte) bool {
	for _, s := range secrets {
		if len(s) > 0 {
			return true
		}
	}
	return false
}
