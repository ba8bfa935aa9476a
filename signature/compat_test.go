package signature_test

import (
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pathhook/pathhook/signature"
)

// TestStandardWebhooksCompat checks SignStandard and VerifyStandard against
// independent implementations of the published Standard Webhooks algorithm
// in Python and Node.js, given the secret as a receiver's library gets it:
// "whsec_" and base64 of the secret's bytes.
func TestStandardWebhooksCompat(t *testing.T) {
	t.Parallel()
	impls := []struct {
		name, interpreter, script string
	}{
		{"python", "python3", "testdata/standard_webhooks.py"},
		{"node", "node", "testdata/standard_webhooks.js"},
	}
	for _, impl := range impls {
		t.Run(impl.name, func(t *testing.T) {
			t.Parallel()
			path, err := exec.LookPath(impl.interpreter)
			if err != nil && os.Getenv("PATHHOOK_REQUIRE_INTERPRETERS") == "1" {
				t.Fatalf("PATHHOOK_REQUIRE_INTERPRETERS=1 but %s is not installed", impl.interpreter)
			}
			if err != nil {
				t.Skipf("%s not installed: cannot check against the %s implementation", impl.interpreter, impl.name)
			}
			run := func(body []byte, args ...string) (string, error) {
				cmd := exec.Command(path, append([]string{impl.script}, args...)...)
				cmd.Stdin = bytes.NewReader(body)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if stderr.Len() > 0 {
					t.Logf("%s stderr: %s", impl.name, stderr.String())
				}
				return strings.TrimSpace(string(out)), err
			}
			for i, c := range compatCases(t) {
				whsec := "whsec_" + b64(c.secret)
				ts := strconv.FormatInt(c.ts.Unix(), 10)
				goSig := signature.SignStandard(c.secret, c.id, c.ts, c.body)

				theirs, err := run(c.body, "sign", whsec, c.id, ts)
				if err != nil {
					t.Fatalf("case %d: %s sign: %v", i, impl.name, err)
				}
				if theirs != goSig {
					t.Fatalf("case %d: %s signs %s, SignStandard %s", i, impl.name, theirs, goSig)
				}
				if err := signature.VerifyStandard([][]byte{c.secret}, c.id, ts, theirs, c.body, c.ts, 0); err != nil {
					t.Fatalf("case %d: VerifyStandard refuses %s's signature: %v", i, impl.name, err)
				}

				// The other way: a header as a rotating delivery sends it,
				// a signature under another secret first, verified by them.
				header := signature.SignStandard([]byte("some-other-secret-0123456789"), c.id, c.ts, c.body) + " " + goSig
				if out, err := run(c.body, "verify", whsec, c.id, ts, header); err != nil || out != "valid" {
					t.Fatalf("case %d: %s refuses SignStandard's header %q: %s (%v)", i, impl.name, header, out, err)
				}
				if out, err := run(append(c.body, ' '), "verify", whsec, c.id, ts, header); err == nil {
					t.Fatalf("case %d: %s accepts a changed body: %s", i, impl.name, out)
				}
			}
			stale := time.Now().Add(-time.Hour)
			body := []byte(`{"id":"evt_replayed"}`)
			sig := signature.SignStandard([]byte("a-secret-0123456789abcdefgh"), "evt_replayed", stale, body)
			if out, err := run(body, "verify", "whsec_"+b64([]byte("a-secret-0123456789abcdefgh")), "evt_replayed",
				strconv.FormatInt(stale.Unix(), 10), sig); err == nil || out != "timestamp outside tolerance" {
				t.Fatalf("%s accepts an hour-old timestamp: %s", impl.name, out)
			}
		})
	}
}

type compatCase struct {
	secret []byte
	id     string
	ts     time.Time
	body   []byte
}

// compatCases are signed now, so that the scripts' own clocks accept them.
func compatCases(t *testing.T) []compatCase {
	t.Helper()
	now := time.Now()
	binary := make([]byte, 64)
	rand.Read(binary)
	secretBytes := make([]byte, 32)
	rand.Read(secretBytes)
	return []compatCase{
		{[]byte("ff820d62b80b7c2789286f691b5e89bd"), "evt_01JD7X5Y2ZK3N4P5Q6R7S8T9V0", now,
			[]byte(`{"id":"evt_01JD7X5Y2ZK3N4P5Q6R7S8T9V0","type":"enrolment.completed","test":false}`)},
		{[]byte("~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./x"), "evt_2", now,
			[]byte("{\"name\":\"Zoë 🚀 \\u003cb\\u003e\",\n \"tab\":\"\t\"}\n")},
		{secretBytes, "evt_3", now, []byte{}},
		{secretBytes, "evt.with.dots", now, binary},
	}
}
