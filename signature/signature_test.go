package signature_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/pathhook/pathhook/signature"
)

func TestSignKnownAnswer(t *testing.T) {
	t.Parallel()
	// Computed independently: printf '%s' '{"id":"evt_1"}' | openssl dgst -sha256 -hmac s3cr3t
	got := signature.Sign([]byte("s3cr3t"), []byte(`{"id":"evt_1"}`))
	want := "sha256=93b398b9ca62b21fe8c9a04b5fc3cb0b63f6bfa54334900bbc11785aef08f27d"
	if got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	if !strings.HasPrefix(got, "sha256=") || len(got) != 7+64 || strings.ToLower(got) != got {
		t.Fatalf("Sign = %q, want sha256= and 64 lowercase hex digits", got)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	secret, body := []byte("a-strong-webhook-secret-0123456789"), []byte(`{"id":"evt_1","type":"enrolment.created"}`)
	valid := signature.Sign(secret, body)
	tests := []struct {
		name   string
		secret []byte
		body   []byte
		header string
		want   error
	}{
		{"valid", secret, body, valid, nil},
		{"empty body", secret, nil, signature.Sign(secret, nil), nil},
		{"no header", secret, body, "", signature.ErrMissing},
		{"no secret", nil, body, valid, signature.ErrNoSecret},
		{"wrong secret", []byte("another-secret-of-enough-length"), body, valid, signature.ErrMismatch},
		{"tampered body", secret, append(append([]byte{}, body...), ' '), valid, signature.ErrMismatch},
		{"uppercase hex", secret, body, "sha256=" + strings.ToUpper(valid[7:]), signature.ErrMalformed},
		{"uppercase prefix", secret, body, "SHA256=" + valid[7:], signature.ErrMalformed},
		{"no prefix", secret, body, valid[7:], signature.ErrMalformed},
		{"other algorithm", secret, body, "sha1=" + valid[7:47], signature.ErrMalformed},
		{"short", secret, body, valid[:len(valid)-1], signature.ErrMalformed},
		{"long", secret, body, valid + "0", signature.ErrMalformed},
		{"not hex", secret, body, valid[:len(valid)-1] + "g", signature.ErrMalformed},
		{"space around", secret, body, " " + valid, signature.ErrMalformed},
		{"two signatures", secret, body, valid + "," + valid, signature.ErrMalformed},
		{"flipped digit", secret, body, flipLastHex(valid), signature.ErrMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := signature.Verify(tt.secret, tt.body, tt.header)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestHeaderNames(t *testing.T) {
	t.Parallel()
	for platform, want := range map[string]string{
		"Falkor":    "Falkor-Webhook-Signature",
		"ByteKast":  "ByteKast-Webhook-Signature",
		"TrainiApp": "TrainiApp-Webhook-Signature",
	} {
		if got := signature.HeaderName(platform); got != want {
			t.Errorf("HeaderName(%q) = %q, want %q", platform, got, want)
		}
		if got := signature.PreviousHeaderName(platform); got != want+"-Previous" {
			t.Errorf("PreviousHeaderName(%q) = %q, want %q", platform, got, want+"-Previous")
		}
	}
}

func TestVerifyHeader(t *testing.T) {
	t.Parallel()
	oldSecret, newSecret := []byte("the-old-secret-0123456789abc"), []byte("the-new-secret-0123456789abc")
	body := []byte(`{"id":"evt_2"}`)
	headers := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	rotating := headers("ByteKast-Webhook-Signature", signature.Sign(newSecret, body),
		"ByteKast-Webhook-Signature-Previous", signature.Sign(oldSecret, body))
	tests := []struct {
		name     string
		platform string
		secret   []byte
		h        http.Header
		want     error
	}{
		{"main", "Falkor", newSecret, headers("Falkor-Webhook-Signature", signature.Sign(newSecret, body)), nil},
		{"header names are case-insensitive", "Falkor", newSecret, http.Header{"Falkor-Webhook-Signature": {signature.Sign(newSecret, body)}}, nil},
		{"rotation, receiver has new secret", "ByteKast", newSecret, rotating, nil},
		{"rotation, receiver has old secret", "ByteKast", oldSecret, rotating, nil},
		{"rotation, receiver has neither", "ByteKast", []byte("a-third-secret-0123456789abc"), rotating, signature.ErrMismatch},
		{"other platform's header", "Falkor", newSecret, rotating, signature.ErrMissing},
		{"nothing", "Falkor", newSecret, http.Header{}, signature.ErrMissing},
		{"only previous, malformed", "Falkor", newSecret, headers("Falkor-Webhook-Signature-Previous", "nope"), signature.ErrMalformed},
		{"main malformed, previous wrong", "Falkor", newSecret, headers("Falkor-Webhook-Signature", "nope",
			"Falkor-Webhook-Signature-Previous", signature.Sign(oldSecret, body)), signature.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := signature.VerifyHeader(tt.platform, tt.secret, tt.h, body)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("VerifyHeader = %v, want %v", err, tt.want)
			}
		})
	}
}

func flipLastHex(sig string) string {
	last := sig[len(sig)-1]
	repl := byte('0')
	if last == '0' {
		repl = '1'
	}
	return sig[:len(sig)-1] + string(repl)
}
