package examples_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pathhook/pathhook/signature"
)

// wireBody is a delivery body as pathhook sends it (CONTRACT section 4),
// with what breaks receivers that do not verify the raw bytes: non-ASCII
// text, Go's \u0026-style escapes, a slash, a number that a re-encoder
// would rewrite.
const wireBody = `{"id":"evt_01JDZ5K8Q4R2M6N7P8S9T0V1W2","type":"enrolment.completed","category":"enrolments",` +
	`"created_at":"2026-11-29T10:00:00.123Z","test":false,"pathway":{"id":"pw_01JDZ5K8Q4","name":"Caf\u00e9 \u0026 Co \u003c3\u003e"},` +
	`"data":{"learner":{"id":"learner-42","email":"zo\u00eb@example.com","name":"Zoë 🚀 O'Brien/\"Jr\""},` +
	`"enrolment":{"status":"completed","enrolled_at":"2026-11-15T09:30:00.000Z","completed_at":"2026-11-29T10:00:00.123Z"},"score":1.50}}`

// receiverSecret has characters that shells and URL encoders mangle.
const receiverSecret = `x7$PATH'"\;&|<>~^0123456789abcdef`

// receiver is one of the example receivers, run as its README says.
type receiver struct {
	name        string
	interpreter string
	dir         string
	args        func(port int) []string
}

var receivers = []receiver{
	{"php", "php", "php", func(port int) []string { return []string{"-S", "127.0.0.1:" + strconv.Itoa(port), "receiver.php"} }},
	{"node", "node", "node", func(int) []string { return []string{"receiver.js"} }},
	{"python", "python3", "python", func(int) []string { return []string{"receiver.py"} }},
}

// TestReceivers runs each example receiver whose interpreter is installed
// and sends it real deliveries of two platforms.
func TestReceivers(t *testing.T) {
	t.Parallel()
	for _, rc := range receivers {
		for _, platform := range []string{"Falkor", "ByteKast"} {
			t.Run(rc.name+"/"+platform, func(t *testing.T) {
				t.Parallel()
				env := []string{"WEBHOOK_SECRET=" + receiverSecret, "PLATFORM=" + platform}
				url, out := start(t, rc.interpreter, rc.dir, rc.args, env)
				testReceiver(t, url, out, platform)
			})
		}
	}
}

func testReceiver(t *testing.T, url string, out *output, platform string) {
	body := []byte(wireBody)
	secret := []byte(receiverSecret)
	rotatedAway := []byte("the-new-secret-the-receiver-lacks-0123")
	tests := []struct {
		name   string
		body   []byte
		h      http.Header
		wantOK bool
	}{
		{"valid", body, deliveryHeader(platform, [][]byte{secret}, body, 1), true},
		{"rotation: receiver holds the previous secret", body, deliveryHeader(platform, [][]byte{rotatedAway, secret}, body, 2), true},
		{"tampered body", append(bytes.Clone(body[:len(body)-2]), []byte("2}")...), deliveryHeader(platform, [][]byte{secret}, body, 3), false},
		{"re-encoded body", []byte(strings.ReplaceAll(wireBody, `\u0026`, "&")), deliveryHeader(platform, [][]byte{secret}, body, 4), false},
		{"wrong secret", body, deliveryHeader(platform, [][]byte{rotatedAway}, body, 5), false},
		{"no signature", body, without(deliveryHeader(platform, [][]byte{secret}, body, 6), platform+"-Webhook-Signature"), false},
		{"signature without prefix", body, withHeader(deliveryHeader(platform, [][]byte{secret}, body, 7),
			platform+"-Webhook-Signature", signature.Sign(secret, body)[len("sha256="):]), false},
		{"another platform's header", body, deliveryHeader(otherPlatform(platform), [][]byte{secret}, body, 8), false},
	}
	for _, tt := range tests {
		status, answer := postDelivery(t, url, tt.h, tt.body)
		switch {
		case tt.wantOK && (status < 200 || status > 299):
			t.Errorf("%s: status %d (%q), want 2xx", tt.name, status, answer)
		case !tt.wantOK && status != http.StatusUnauthorized:
			t.Errorf("%s: status %d (%q), want 401", tt.name, status, answer)
		}
	}
	// Each verified delivery printed one line.
	want := []string{
		"verified enrolment.completed evt_01JDZ5K8Q4R2M6N7P8S9T0V1W2 (delivery dlv_01JDZ5K8Q4, attempt 1)",
		"verified enrolment.completed evt_01JDZ5K8Q4R2M6N7P8S9T0V1W2 (delivery dlv_01JDZ5K8Q4, attempt 2)",
	}
	out.waitFor(t, want...)
	if n := strings.Count(out.String(), "verified "); n != 2 {
		t.Errorf("%d lines of verified deliveries, want 2:\n%s", n, out.String())
	}
}

// TestSeedVerbatim runs the original docs' PHP receiver, unchanged, and
// requires that it accepts pathhook's deliveries: the contract's promise.
// A ByteKast integrator changes the one header name in it, as the docs
// tell them to.
func TestSeedVerbatim(t *testing.T) {
	t.Parallel()
	const seedSecret = "ff820d62b80b7c2789286f691b5e89bd" // hard-coded in the snippet
	seed, err := os.ReadFile(filepath.Join("php", "seed_verbatim.php"))
	if err != nil {
		t.Fatal(err)
	}
	for _, platform := range []string{"Falkor", "ByteKast"} {
		t.Run(platform, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			src := bytes.ReplaceAll(seed, []byte("HTTP_FALKOR_"), []byte("HTTP_"+strings.ToUpper(platform)+"_"))
			if err := os.WriteFile(filepath.Join(dir, "seed.php"), src, 0o600); err != nil {
				t.Fatal(err)
			}
			args := func(port int) []string { return []string{"-S", "127.0.0.1:" + strconv.Itoa(port), "seed.php"} }
			url, _ := start(t, "php", dir, args, nil)
			body := []byte(wireBody)
			for i, secrets := range [][][]byte{
				{[]byte(seedSecret)},
				{[]byte(seedSecret), []byte("previous-secret-during-rotation-0123")},
			} {
				status, answer := postDelivery(t, url, deliveryHeader(platform, secrets, body, i+1), body)
				if status != http.StatusOK || answer != "match" {
					t.Errorf("the seed's snippet answers %d %q to delivery %d, want 200 \"match\"", status, answer, i+1)
				}
			}
			_, answer := postDelivery(t, url, deliveryHeader(platform, [][]byte{[]byte(seedSecret)}, body, 3), []byte(`{"forged":true}`))
			if answer != "no match" {
				t.Errorf("the seed's snippet answers %q to a forged body, want \"no match\"", answer)
			}
		})
	}
}

// deliveryHeader returns the headers of a delivery of body signed with
// secrets (the current one first), as pathhook's delivery engine sets
// them, header names spelled as it spells them.
func deliveryHeader(platform string, secrets [][]byte, body []byte, attempt int) http.Header {
	p := platform + "-Webhook-"
	now := time.Now()
	h := http.Header{}
	h["Content-Type"] = []string{"application/json"}
	h["User-Agent"] = []string{platform + "-Webhooks/1.0.0"}
	h[p+"Event"] = []string{"enrolment.completed"}
	h[p+"Id"] = []string{"evt_01JDZ5K8Q4R2M6N7P8S9T0V1W2"}
	h[p+"Delivery"] = []string{"dlv_01JDZ5K8Q4"}
	h[p+"Attempt"] = []string{strconv.Itoa(attempt)}
	h[p+"Signature"] = []string{signature.Sign(secrets[0], body)}
	if len(secrets) > 1 {
		h[p+"Signature-Previous"] = []string{signature.Sign(secrets[1], body)}
	}
	var std []string
	for _, s := range secrets {
		std = append(std, signature.SignStandard(s, "evt_01JDZ5K8Q4R2M6N7P8S9T0V1W2", now, body))
	}
	h["webhook-id"] = []string{"evt_01JDZ5K8Q4R2M6N7P8S9T0V1W2"}
	h["webhook-timestamp"] = []string{strconv.FormatInt(now.Unix(), 10)}
	h["webhook-signature"] = []string{strings.Join(std, " ")}
	return h
}

func without(h http.Header, name string) http.Header {
	delete(h, name)
	return h
}

func withHeader(h http.Header, name, value string) http.Header {
	h[name] = []string{value}
	return h
}

func otherPlatform(p string) string {
	if p == "Falkor" {
		return "ByteKast"
	}
	return "Falkor"
}

func postDelivery(t *testing.T, url string, h http.Header, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(answer)
}

// output collects a receiver's stdout and stderr.
type output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// waitFor waits until the output holds every line in want: the receivers
// print after answering, so a line may lag its answer a little.
func (o *output) waitFor(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		missing := ""
		for _, w := range want {
			if !strings.Contains(o.String(), w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("output lacks %q:\n%s", missing, o.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// start runs interpreter with args(port) in dir on a free 127.0.0.1 port,
// with env added to the test's environment and PORT set, until the test
// ends; it returns the URL once the port accepts connections. It skips the
// test when the interpreter is not installed.
func start(t *testing.T, interpreter, dir string, args func(port int) []string, env []string) (string, *output) {
	t.Helper()
	path, err := exec.LookPath(interpreter)
	if err != nil && os.Getenv("PATHHOOK_REQUIRE_INTERPRETERS") == "1" {
		t.Fatalf("PATHHOOK_REQUIRE_INTERPRETERS=1 but %s is not installed", interpreter)
	}
	if err != nil {
		t.Skipf("%s not installed (.ci/run installs php-cli): cannot run this receiver", interpreter)
	}
	// A port freed here could be taken again before the receiver binds it:
	// try a few.
	var last string
	for range 3 {
		port := freePort(t)
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, path, args(port)...)
		cmd.Dir = dir
		cmd.Env = append(append(os.Environ(), env...), "PORT="+strconv.Itoa(port))
		out := &output{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() { cancel(); <-exited }
		if waitListening(port, exited) {
			t.Cleanup(stop)
			return fmt.Sprintf("http://127.0.0.1:%d/", port), out
		}
		stop()
		last = out.String()
	}
	t.Fatalf("%s did not start listening; its output:\n%s", interpreter, last)
	return "", nil
}

// waitListening reports whether port answers HTTP before the process
// exits or 20 seconds pass. A bare TCP connect is not proof: a connect to
// a free port in the ephemeral range can connect a socket to itself.
func waitListening(port int, exited <-chan struct{}) bool {
	deadline := time.Now().Add(20 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		resp, err := client.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return true
		}
		select {
		case <-exited:
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
	return false
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
