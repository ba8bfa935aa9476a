package signature_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/pathhook/pathhook/signature"
)

// The test vector published with the Standard Webhooks reference libraries.
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignStandardPublishedVector(t *testing.T) {
	t.Parallel()
	secret, err := signature.ParseStandardSecret(vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	got := signature.SignStandard(secret, vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody))
	if got != vectorSignature {
		t.Fatalf("SignStandard = %s, want %s", got, vectorSignature)
	}
}

func TestVerifyStandard(t *testing.T) {
	t.Parallel()
	secret, _ := signature.ParseStandardSecret(vectorSecret)
	other := []byte("another-secret-0123456789abcdef")
	body := []byte(vectorBody)
	sent := time.Unix(vectorTimestamp, 0)
	ts := strconv.FormatInt(vectorTimestamp, 10)
	sig := vectorSignature
	sigOther := signature.SignStandard(other, vectorID, sent, body)
	tests := []struct {
		name      string
		secrets   [][]byte
		id, ts    string
		sigHeader string
		body      []byte
		now       time.Time
		tolerance time.Duration
		want      error
	}{
		{"valid", [][]byte{secret}, vectorID, ts, sig, body, sent, 0, nil},
		{"second of two signatures", [][]byte{secret}, vectorID, ts, sigOther + " " + sig, body, sent, 0, nil},
		{"second of two secrets", [][]byte{other, secret}, vectorID, ts, sig, body, sent, 0, nil},
		{"other versions ignored", [][]byte{secret}, vectorID, ts, "v1a,abcd v2," + sig[3:] + " " + sig, body, sent, 0, nil},
		{"extra spaces", [][]byte{secret}, vectorID, ts, "  " + sig + "  ", body, sent, 0, nil},
		{"just within default tolerance", [][]byte{secret}, vectorID, ts, sig, body, sent.Add(5 * time.Minute), 0, nil},
		{"just within tolerance, clock behind", [][]byte{secret}, vectorID, ts, sig, body, sent.Add(-5 * time.Minute), 0, nil},
		{"too old", [][]byte{secret}, vectorID, ts, sig, body, sent.Add(5*time.Minute + time.Second), 0, signature.ErrTimestamp},
		{"too new", [][]byte{secret}, vectorID, ts, sig, body, sent.Add(-5*time.Minute - time.Second), 0, signature.ErrTimestamp},
		{"custom tolerance", [][]byte{secret}, vectorID, ts, sig, body, sent.Add(time.Hour), 2 * time.Hour, nil},
		{"custom tolerance exceeded", [][]byte{secret}, vectorID, ts, sig, body, sent.Add(time.Minute), 30 * time.Second, signature.ErrTimestamp},
		{"far future timestamp", [][]byte{secret}, vectorID, "9223372036854775807", sig, body, sent, 0, signature.ErrTimestamp},
		{"wrong secret", [][]byte{other}, vectorID, ts, sig, body, sent, 0, signature.ErrMismatch},
		{"tampered body", [][]byte{secret}, vectorID, ts, sig, []byte(`{"test": 2432232315}`), sent, 0, signature.ErrMismatch},
		{"other id", [][]byte{secret}, "msg_other", ts, sig, body, sent, 0, signature.ErrMismatch},
		{"timestamp respelled", [][]byte{secret}, vectorID, "0" + ts, sig, body, sent, 0, signature.ErrMismatch},
		{"no secrets", nil, vectorID, ts, sig, body, sent, 0, signature.ErrNoSecret},
		{"only empty secrets", [][]byte{{}}, vectorID, ts, sig, body, sent, 0, signature.ErrNoSecret},
		{"no id", [][]byte{secret}, "", ts, sig, body, sent, 0, signature.ErrMissing},
		{"no timestamp", [][]byte{secret}, vectorID, "", sig, body, sent, 0, signature.ErrMissing},
		{"no signature", [][]byte{secret}, vectorID, ts, "", body, sent, 0, signature.ErrMissing},
		{"timestamp not a number", [][]byte{secret}, vectorID, "2021-02-25T15:02:10Z", sig, body, sent, 0, signature.ErrMalformed},
		{"no v1 signature", [][]byte{secret}, vectorID, ts, "v2," + sig[3:], body, sent, 0, signature.ErrMalformed},
		{"signature not base64", [][]byte{secret}, vectorID, ts, "v1,***", body, sent, 0, signature.ErrMalformed},
		{"signature too short", [][]byte{secret}, vectorID, ts, "v1,AAAA", body, sent, 0, signature.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := signature.VerifyStandard(tt.secrets, tt.id, tt.ts, tt.sigHeader, tt.body, tt.now, tt.tolerance)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("VerifyStandard = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseStandardSecret(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string
		err  error
	}{
		{"whsec_c2VjcmV0LWJ5dGVz", "secret-bytes", nil},
		{"c2VjcmV0LWJ5dGVz", "secret-bytes", nil},
		{"whsec_c2VjcmV0LWJ5dGVzIQ", "secret-bytes!", nil}, // unpadded
		{"whsec_c2VjcmV0LWJ5dGVzIQ==", "secret-bytes!", nil},
		{"whsec_", "", signature.ErrMalformed},
		{"", "", signature.ErrMalformed},
		{"whsec_not base64!", "", signature.ErrMalformed},
	}
	for _, tt := range tests {
		got, err := signature.ParseStandardSecret(tt.in)
		if string(got) != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("ParseStandardSecret(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// TestStandardRoundTrip checks that whatever SignStandard signs,
// VerifyStandard accepts with the secret in either form, over secrets that
// are not text.
func TestStandardRoundTrip(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 10, 0, 0, 123e6, time.UTC)
	for i, secret := range [][]byte{[]byte("a-printable-secret-of-24+"), {0, 1, 2, 0xff, 0xfe, '.', ','}} {
		sig := signature.SignStandard(secret, "evt_123", now, []byte("{}"))
		whsec, err := signature.ParseStandardSecret("whsec_" + b64(secret))
		if err != nil {
			t.Fatal(err)
		}
		ts := strconv.FormatInt(now.Unix(), 10)
		if err := signature.VerifyStandard([][]byte{whsec}, "evt_123", ts, sig, []byte("{}"), now, 0); err != nil {
			t.Errorf("secret %d: VerifyStandard = %v", i, err)
		}
	}
}
