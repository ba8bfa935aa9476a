package signature

import (
	"encoding/base64"
	"errors"
	"strconv"
	"testing"
	"time"
)

// FuzzVerify feeds Verify and VerifyStandard hostile headers and bodies:
// they never panic, accept only what Sign and SignStandard made, and answer
// every failure with one of the package's error values.
func FuzzVerify(f *testing.F) {
	secret := []byte("fuzz-secret-0123456789abcdefgh")
	body := []byte(`{"id":"evt_1","type":"enrolment.created"}`)
	f.Add(body, Sign(secret, body), SignStandard(secret, "evt_1", time.Unix(1700000000, 0), body), "1700000000")
	f.Add([]byte{}, "sha256=", "v1,", "")
	f.Add([]byte("x"), "sha256=zz", "v1,!!!! v2,abc", "-1")
	f.Add([]byte("x"), "SHA256=00", "v1", "99999999999999999999")
	f.Add([]byte("\x00\xff"), "sha256="+string(make([]byte, 64)), " v1,AAAA  ", "1e9")
	f.Fuzz(func(t *testing.T, body []byte, header, std, ts string) {
		err := Verify(secret, body, header)
		if err == nil && header != Sign(secret, body) {
			t.Fatalf("Verify accepted %q for a body it does not sign", header)
		}
		if err != nil && !errors.Is(err, ErrMissing) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrMismatch) {
			t.Fatalf("Verify(%q) = %v, not one of the package's errors", header, err)
		}
		now := time.Unix(1700000000, 0)
		err = VerifyStandard([][]byte{secret}, "evt_1", ts, std, body, now, DefaultTolerance)
		if err == nil {
			sec, perr := strconv.ParseInt(ts, 10, 64)
			if perr != nil {
				t.Fatalf("VerifyStandard accepted timestamp %q", ts)
			}
			want := SignStandard(secret, "evt_1", time.Unix(sec, 0), body)
			found := false
			for _, s := range parseStandardSignatures(std) {
				found = found || "v1,"+base64.StdEncoding.EncodeToString(s) == want
			}
			if !found {
				t.Fatalf("VerifyStandard accepted %q, which holds no valid signature", std)
			}
		}
	})
}
